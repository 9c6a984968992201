import { describe, expect, it } from 'vitest';
import {
  brandPalette,
  brandProperties,
  contrastRatio,
  MIN_TEXT_CONTRAST,
  readableShade,
} from '../../../client/src/lib/brand-palette.ts';

// The backgrounds text sits on in app.css: light page, surface and muted surface; dark ones.
const LIGHT_BACKGROUNDS = ['#ffffff', '#f6f8fb', '#f3f5f9'];
const DARK_BACKGROUNDS = ['#161d28', '#1c2431', '#0e131b'];

// Dark, light, saturated and mid-tone brand colours, the hard cases among them.
const COLORS = [
  '#0b7a75',
  '#ffd600',
  '#ffffff',
  '#000000',
  '#777777',
  '#e60023',
  '#1a237e',
  '#00ff00',
  '#7c3aed',
  '#ff8800',
];

describe('contrastRatio', () => {
  it('is 21 for black on white and 1 for a colour on itself', () => {
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrastRatio('#0b7a75', '#0b7a75')).toBe(1);
  });
});

describe('readableShade', () => {
  it('keeps a colour that is readable already', () => {
    expect(readableShade('#1a237e', '#ffffff')).toBe('#1a237e');
  });

  it('darkens a light colour on a light background until it is readable', () => {
    // Prepare, Act
    const shade = readableShade('#ffd600', '#ffffff');

    // Assess
    expect(contrastRatio(shade, '#ffffff')).toBeGreaterThanOrEqual(MIN_TEXT_CONTRAST);
    expect(shade).not.toBe('#000000');
  });
});

describe('brandPalette', () => {
  it.each(COLORS)('keeps every text readable in both schemes for %s', (color) => {
    // Prepare, Act
    const { light, dark } = brandPalette(color);

    // Assess
    for (const background of LIGHT_BACKGROUNDS) {
      expect(contrastRatio(light['accent-text'], background)).toBeGreaterThanOrEqual(4.5);
    }
    for (const background of DARK_BACKGROUNDS) {
      expect(contrastRatio(dark['accent-text'], background)).toBeGreaterThanOrEqual(4.5);
    }
    expect(contrastRatio(light['on-button'], light.button)).toBeGreaterThanOrEqual(4.5);
    expect(contrastRatio(dark['on-button'], dark.button)).toBeGreaterThanOrEqual(4.5);
  });

  it('uses the brand colour itself for the light button and the stripe', () => {
    // Prepare, Act
    const { light, dark } = brandPalette('#0b7a75');

    // Assess
    expect([light.button, light.brand, dark.brand]).toEqual(['#0b7a75', '#0b7a75', '#0b7a75']);
    expect(light['on-button']).toBe('#ffffff');
  });

  it('gives the CSS custom properties app.css reads, per scheme', () => {
    // Prepare, Act
    const names = brandProperties('#0b7a75').map(([name]) => name);

    // Assess
    expect(names).toContain('--brand-light-accent-text');
    expect(names).toContain('--brand-dark-on-button');
    expect(names.every((name) => /^--brand-(light|dark)-[a-z-]+$/.test(name))).toBe(true);
  });
});
