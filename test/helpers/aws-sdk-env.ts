/** Imported for its effect by tests that build AWS SDK clients. */

// The SDK's notice about future Node versions says nothing about the code under test.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
