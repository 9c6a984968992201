import { describe, expect, it } from 'vitest';
import { etaInWords } from '../../../client/src/lib/eta.ts';
import {
  browserLanguages,
  chooseLanguage,
  MESSAGES,
  type Messages,
  pageTexts,
} from '../../../client/src/lib/i18n.ts';

/** Sample arguments for the messages that take some, by how many they take. */
const SAMPLE_ARGS: Record<number, unknown[]> = { 0: [], 1: ['shop.example.com'], 2: [3, '3'] };

describe('chooseLanguage', () => {
  it.each([
    [['de-DE', 'en-US'], 'de', 'de-DE'],
    [['fr-CA', 'de'], 'fr', 'fr-CA'],
    [['es-419'], 'es', 'es-419'],
    [['it-IT', 'es-ES', 'en'], 'es', 'es-ES'],
    [['en-GB', 'de-DE'], 'en', 'en-GB'],
    [['DE-at'], 'de', 'de-AT'],
  ])('takes the first language the page speaks from %j: %s (%s)', (preferred, language, locale) => {
    // Prepare, Act
    const choice = chooseLanguage(preferred);

    // Assess
    expect(choice).toEqual({ language, locale });
  });

  it('speaks English when the browser prefers only languages the page does not speak', () => {
    // Prepare, Act
    const choices = [chooseLanguage(['ja-JP', 'zh-Hant-TW']), chooseLanguage([])];

    // Assess
    expect(choices).toEqual([
      { language: 'en', locale: 'en' },
      { language: 'en', locale: 'en' },
    ]);
  });

  it('falls back to the bare language for a tag Intl cannot read', () => {
    // Prepare, Act
    const choice = chooseLanguage(['de-!!']);

    // Assess
    expect(choice).toEqual({ language: 'de', locale: 'de' });
  });

  it('reads navigator.languages, or navigator.language where the list is missing', () => {
    // Prepare, Act
    const lists = [
      browserLanguages({ languages: ['fr-FR', 'en'], language: 'fr-FR' }),
      browserLanguages({ languages: [], language: 'de-DE' }),
      browserLanguages({}),
    ];

    // Assess
    expect(lists).toEqual([['fr-FR', 'en'], ['de-DE'], []]);
  });
});

describe('the messages', () => {
  const englishKeys = Object.keys(MESSAGES.en).sort();

  it('speak English and at least two more languages', () => {
    expect(Object.keys(MESSAGES)).toEqual(expect.arrayContaining(['en', 'de', 'es', 'fr']));
  });

  it.each(Object.keys(MESSAGES))('in %s have every key English has, and no other', (language) => {
    // Prepare
    const messages = MESSAGES[language as keyof typeof MESSAGES];

    // Act
    const keys = Object.keys(messages).sort();

    // Assess
    expect(keys).toEqual(englishKeys);
  });

  it.each(Object.keys(MESSAGES))(
    'in %s are never empty, and take what English takes',
    (language) => {
      // Prepare
      const messages = MESSAGES[language as keyof typeof MESSAGES] as Messages;

      // Act
      const problems = Object.entries(messages).flatMap(([key, value]) => {
        const english = MESSAGES.en[key as keyof Messages];
        if (typeof value !== typeof english) return [`${key}: not a ${typeof english}`];
        if (typeof value === 'string') return value.trim() === '' ? [`${key}: empty`] : [];
        const fn = value as (...args: unknown[]) => string;
        if (fn.length !== (english as (...args: unknown[]) => string).length) {
          return [`${key}: takes ${fn.length} arguments`];
        }
        const text = fn(...(SAMPLE_ARGS[fn.length] ?? []));
        return text.trim() === '' || text.includes('undefined') ? [`${key}: "${text}"`] : [];
      });

      // Assess
      expect(problems).toEqual([]);
    },
  );

  it('differ from English in every other language (nothing left untranslated by mistake)', () => {
    // Prepare
    const sameEverywhere = new Set(['offline']);

    // Act
    const untranslated = Object.entries(MESSAGES)
      .filter(([language]) => language !== 'en')
      .flatMap(([language, messages]) =>
        Object.entries(messages)
          .filter(([key, value]) => typeof value === 'string' && !sameEverywhere.has(key))
          .filter(([key, value]) => value === MESSAGES.en[key as keyof Messages])
          .map(([key]) => `${language}.${key}`),
      );

    // Assess
    expect(untranslated).toEqual([]);
  });
});

describe('pageTexts', () => {
  it('formats counts in the locale of the browser', () => {
    // Prepare, Act
    const numbers = [
      pageTexts(['en-US']).number(12345),
      pageTexts(['de-DE']).number(12345),
      pageTexts(['fr-FR']).number(12345),
    ];

    // Assess
    expect(numbers).toEqual(['12,345', '12.345', '12\u202f345']);
  });

  it('puts the estimated wait in the visitor language, through Intl', () => {
    // Prepare
    const german = pageTexts(['de-DE']);
    const spanish = pageTexts(['es-ES']);
    const french = pageTexts(['fr-FR']);

    // Act
    const words = [
      etaInWords(150, german),
      etaInWords(75 * 60, german),
      etaInWords(60, german),
      etaInWords(null, german),
      etaInWords(2 * 3600, spanish),
      etaInWords(75 * 60, spanish),
      etaInWords(30, french),
      etaInWords(150, french),
    ];

    // Assess
    expect(words).toEqual([
      'etwa 3 Minuten',
      'etwa 1 Stunde 15 Minuten',
      'etwa 1 Minute',
      'vom Veranstalter angehalten',
      'alrededor de 2 horas',
      'alrededor de 1 hora y 15 minutos',
      "moins d'une minute",
      'environ 3 minutes',
    ]);
  });

  it('names the destination in the right grammatical case when the host is unknown', () => {
    // Prepare
    const { t } = pageTexts(['de']);

    // Act
    const texts = [t.continueTo('shop.example.com'), t.continueTo(null)];

    // Assess
    expect(texts).toEqual(['Weiter zu shop.example.com', 'Weiter zur Website']);
  });
});
