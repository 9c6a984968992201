/**
 * The CDK app (`npx cdk synth`, `npx cdk deploy --all`): composes the stacks, nothing else.
 * Settings come from the context in cdk.json and `-c key=value`; see docs/DEPLOY.md.
 */
import { App } from 'aws-cdk-lib';
import { composeApp } from './compose.ts';

const app = new App();
composeApp(app);
app.synth();
