/**
 * The organiser's branding of the waiting-room page: the event's name, a short text, a logo and a
 * brand colour. One set of rules for the three readers, so that they cannot drift: the local
 * runtime's environment (`local/config.ts`), the CDK context (`cdk/settings.ts`) and the page
 * itself, which checks `config.json` again (`client/src/lib/config.ts`). Nothing here comes from
 * the visitor: the page reads these from `config.json` only, never from its URL.
 *
 * Plain valibot and string rules only: this module is bundled into the page.
 */
import * as v from 'valibot';

/** What `config.json` carries for the page's look, beside `wsUrl` and `mainOrigin`. */
export interface PageBranding {
  /** The event's name: the page's heading and title. Empty: "Waiting room" in the visitor's language. */
  roomName: string;
  /** A short plain-text message from the organiser under the heading; empty: none. */
  eventText: string;
  /**
   * The organiser's logo: a path on the page's own origin (`/waiting-room/brand/logo.svg`) or a
   * `data:image/...;base64,` URL. Empty: no logo. The page's CSP allows images from `'self'`
   * and `data:` only, so nothing else could load anyway.
   */
  eventLogo: string;
  /** The brand colour as `#rrggbb` (lowercase); empty: the page's own blue. */
  brandColor: string;
}

export const NO_BRANDING: PageBranding = {
  roomName: '',
  eventText: '',
  eventLogo: '',
  brandColor: '',
};

export const MAX_ROOM_NAME_LENGTH = 120;
export const MAX_EVENT_TEXT_LENGTH = 280;
/** About 48 KB of image once decoded: a logo, not a photograph. */
export const MAX_EVENT_LOGO_LENGTH = 65_536;

// C0 and C1 control characters, DEL; the event text may hold line breaks, the name may not.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what is refused
const CONTROL_IN_LINE = /[\u0000-\u001f\u007f-\u009f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what is refused
const CONTROL_IN_TEXT = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
/** Something that reads as a tag (`<b>`, `</p>`, `<!--`): the page shows text, never markup. */
const MARKUP = /<[a-z!/?]/i;

const plainText = 'must be plain text (no HTML tags)';

/** The event's name: one line of plain text, at most 120 characters, trimmed. */
export const RoomNameSchema = v.pipe(
  v.string(),
  v.trim(),
  v.maxLength(MAX_ROOM_NAME_LENGTH, `must be at most ${MAX_ROOM_NAME_LENGTH} characters`),
  v.check((s) => !CONTROL_IN_LINE.test(s), 'must be one line without control characters'),
  v.check((s) => !MARKUP.test(s), plainText),
);

/** The organiser's short text: plain text (line breaks allowed), at most 280 characters. */
export const EventTextSchema = v.pipe(
  v.string(),
  v.trim(),
  v.transform((s) => s.replace(/\r\n?/g, '\n')),
  v.maxLength(MAX_EVENT_TEXT_LENGTH, `must be at most ${MAX_EVENT_TEXT_LENGTH} characters`),
  v.check((s) => !CONTROL_IN_TEXT.test(s), 'must hold no control characters but line breaks'),
  v.check((s) => !MARKUP.test(s), plainText),
);

/** A path on the page's own origin: one leading `/` (never `//host`), URL path characters only. */
const SAME_ORIGIN_PATH = /^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
/** An inline raster or SVG image; an SVG shown by `<img>` runs no script. */
const DATA_IMAGE = /^data:image\/(png|jpeg|gif|webp|avif|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$/;

/** The logo: empty, a same-origin path, or a base64 `data:image/...` URL, at most 64 KiB. */
export const EventLogoSchema = v.pipe(
  v.string(),
  v.trim(),
  v.maxLength(MAX_EVENT_LOGO_LENGTH, `must be at most ${MAX_EVENT_LOGO_LENGTH} characters`),
  v.check(
    (s) => s === '' || SAME_ORIGIN_PATH.test(s) || DATA_IMAGE.test(s),
    "must be a path on the waiting room's own origin (such as /waiting-room/brand/logo.svg) or a data:image/(png|jpeg|gif|webp|avif|svg+xml);base64,... URL; other origins are refused, the page's Content-Security-Policy loads images from its own origin only",
  ),
);

/** A brand colour: `#rgb` or `#rrggbb`, given as `#rrggbb` in lowercase; empty for none. */
export const BrandColorSchema = v.pipe(
  v.string(),
  v.trim(),
  v.check(
    (s) => s === '' || /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(s),
    'must be a hex colour such as #0b7a75 or #e60',
  ),
  v.transform((s) => normalizeHexColor(s)),
);

/** `#E60` → `#ee6600`; `''` stays `''`. Expects a string the schema above accepted. */
function normalizeHexColor(color: string): string {
  if (color === '') return '';
  const hex = color.slice(1).toLowerCase();
  return hex.length === 3 ? `#${[...hex].map((digit) => digit + digit).join('')}` : `#${hex}`;
}
