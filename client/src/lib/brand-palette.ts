/**
 * Turns the organiser's one brand colour into the page's colour variables, for the light and the
 * dark scheme, so that every text stays readable whatever colour is configured: text in the brand
 * colour is darkened (light scheme) or lightened (dark scheme) until it reaches WCAG AA contrast
 * (4.5:1) on the page's backgrounds, and text on a brand-coloured button is black or white,
 * whichever reads better.
 */

type Rgb = readonly [number, number, number];

/** WCAG AA for normal text. */
export const MIN_TEXT_CONTRAST = 4.5;

// The darkest background text sits on in the light scheme and the lightest in the dark one
// (app.css `--page` and `--surface-muted`): readable there, readable everywhere.
const LIGHT_BACKGROUND = '#f3f5f9';
const DARK_BACKGROUND = '#1c2431';
const LIGHT_SURFACE = '#ffffff';
const DARK_SURFACE = '#161d28';
const DARK_TEXT = '#111827';
const WHITE = '#ffffff';
const BLACK = '#000000';

function toRgb(hex: string): Rgb {
  const value = Number.parseInt(hex.slice(1), 16);
  return [(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff];
}

function toHex(rgb: Rgb): string {
  return `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;
}

function linear(channel: number): number {
  const s = channel / 255;
  return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
}

/** WCAG relative luminance of an sRGB `#rrggbb` colour, 0 (black) to 1 (white). */
export function relativeLuminance(hex: string): number {
  const [r, g, b] = toRgb(hex);
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** WCAG contrast ratio of two `#rrggbb` colours, 1 to 21. */
export function contrastRatio(a: string, b: string): number {
  const [light, dark] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x) as [
    number,
    number,
  ];
  return (light + 0.05) / (dark + 0.05);
}

/** `a` moved `amount` (0–1) of the way to `b`, in sRGB. */
export function mix(a: string, b: string, amount: number): string {
  const [r1, g1, b1] = toRgb(a);
  const [r2, g2, b2] = toRgb(b);
  const step = (from: number, to: number) => from + (to - from) * amount;
  return toHex([step(r1, r2), step(g1, g2), step(b1, b2)]);
}

/**
 * The colour nearest to `color` (mixed towards black or white, whichever reaches it) that has at
 * least `ratio` contrast on `background`; `color` itself when it already does.
 */
export function readableShade(
  color: string,
  background: string,
  ratio = MIN_TEXT_CONTRAST,
): string {
  if (contrastRatio(color, background) >= ratio) return color;
  const toward = relativeLuminance(background) > 0.18 ? BLACK : WHITE;
  for (let step = 1; step <= 100; step++) {
    const shade = mix(color, toward, step / 100);
    if (contrastRatio(shade, background) >= ratio) return shade;
  }
  return toward;
}

/**
 * Text for a `background`: the page's near-black or white, whichever has the higher contrast;
 * pure black where neither reaches 4.5:1 (mid-tones, where black still does).
 */
export function readableTextOn(background: string): string {
  const best =
    contrastRatio(DARK_TEXT, background) >= contrastRatio(WHITE, background) ? DARK_TEXT : WHITE;
  return contrastRatio(best, background) >= MIN_TEXT_CONTRAST ? best : BLACK;
}

/** The page's colour variables for one scheme (names as in app.css, without `--`). */
export type SchemeColors = Record<
  | 'brand'
  | 'accent'
  | 'accent-soft'
  | 'accent-text'
  | 'button'
  | 'button-hover'
  | 'on-button'
  | 'info-surface'
  | 'info-border',
  string
>;

export interface BrandPalette {
  light: SchemeColors;
  dark: SchemeColors;
}

/** Both schemes' colours for a `#rrggbb` brand colour. */
export function brandPalette(color: string): BrandPalette {
  const lightText = readableShade(color, LIGHT_BACKGROUND);
  const darkText = readableShade(color, DARK_BACKGROUND);
  // The dark scheme's button takes the lightened shade, as the page's own blue does: a dark
  // brand colour would sink into the dark surface.
  const darkButton = darkText;
  return {
    light: {
      brand: color,
      accent: color,
      'accent-soft': mix(color, LIGHT_SURFACE, 0.45),
      'accent-text': lightText,
      button: color,
      'button-hover': mix(color, BLACK, 0.15),
      'on-button': readableTextOn(color),
      'info-surface': mix(color, LIGHT_SURFACE, 0.94),
      'info-border': mix(color, LIGHT_SURFACE, 0.8),
    },
    dark: {
      brand: color,
      accent: darkText,
      'accent-soft': mix(darkText, DARK_SURFACE, 0.45),
      'accent-text': darkText,
      button: darkButton,
      'button-hover': mix(darkButton, WHITE, 0.15),
      'on-button': readableTextOn(darkButton),
      'info-surface': mix(color, DARK_SURFACE, 0.88),
      'info-border': mix(color, DARK_SURFACE, 0.7),
    },
  };
}

/**
 * The custom properties to set on the document's root: `--brand-light-*` and `--brand-dark-*`,
 * which app.css takes in place of its own colours for the scheme in use.
 */
export function brandProperties(color: string): Array<[string, string]> {
  const palette = brandPalette(color);
  return (['light', 'dark'] as const).flatMap((scheme) =>
    Object.entries(palette[scheme]).map(([name, value]): [string, string] => [
      `--brand-${scheme}-${name}`,
      value,
    ]),
  );
}
