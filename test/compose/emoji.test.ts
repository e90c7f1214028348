import { describe, expect, it } from 'vitest';
import { emojiForShortcode, replaceShortcodes } from '../../src/compose/emoji.ts';

describe('emojiForShortcode', () => {
  it.each([
    { name: 'smile', emoji: '😄' },
    { name: '+1', emoji: '👍' },
    { name: 'thumbsup', emoji: '👍' },
    { name: 'heart', emoji: '\u2764\uFE0F' },
    { name: 'sunny', emoji: '\u2600\uFE0F' },
    { name: 'package', emoji: '\u{1F4E6}' },
    { name: 'flag-fr', emoji: '🇫🇷' },
    { name: 'e-mail', emoji: '📧' },
    { name: '100', emoji: '💯' },
  ])('finds the fully-qualified emoji for the Slack name $name (U+FE0F only where needed)', ({ name, emoji }) => {
    expect(emojiForShortcode(name)).toBe(emoji);
  });

  it.each(['partyparrot', 'Smile', ''])('returns undefined for the unknown name "%s"', (name) => {
    expect(emojiForShortcode(name)).toBeUndefined();
  });
});

describe('replaceShortcodes', () => {
  it.each([
    { input: 'Thanks :smile:', output: 'Thanks 😄', why: 'a known shortcode becomes its emoji' },
    { input: ':+1: :thumbsup:', output: '👍 👍', why: 'aliases of the same emoji both work' },
    { input: ':thumbsup::skin-tone-3:', output: '👍🏼', why: 'a skin tone right after an emoji modifies it' },
    { input: ':wave::skin-tone-6:', output: '👋🏿', why: 'the darkest skin tone modifies a waving hand' },
    {
      input: ':people_holding_hands::skin-tone-4:',
      output: '🧑🏽‍🤝‍🧑🏽',
      why: 'a skin tone applies to every person of a multi-person emoji',
    },
    { input: ':heart::skin-tone-2:', output: '❤️🏻', why: 'an emoji without skin variants keeps the swatch after it' },
    { input: 'tone :skin-tone-2:', output: 'tone 🏻', why: 'a skin tone on its own is the swatch' },
    { input: ':smile: :skin-tone-2:', output: '😄 🏻', why: 'a skin tone separated by a space stays separate' },
    { input: ':partyparrot: :smile:', output: ':partyparrot: 😄', why: 'custom workspace emoji stay as written' },
    { input: ':foo:smile:', output: ':foo😄', why: 'a colon closing an unknown name can open the next shortcode' },
    { input: 'at 10:30:45 sharp', output: 'at 10:30:45 sharp', why: 'times are not shortcodes' },
    { input: ':smile::smile:', output: '😄😄', why: 'adjacent shortcodes both convert' },
    { input: 'no colons here', output: 'no colons here', why: 'text without shortcodes is unchanged' },
  ])('replaces shortcodes so that $why', ({ input, output }) => {
    expect(replaceShortcodes(input)).toBe(output);
  });
});
