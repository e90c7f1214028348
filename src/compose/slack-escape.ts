/**
 * Slack's mrkdwn escapes only `&`, `<` and `>`: a value escaped so is shown as written and never becomes a mention,
 * a channel or a link. Used for names and reasons from Chatwoot, text typed into plain fields, and template values.
 */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
