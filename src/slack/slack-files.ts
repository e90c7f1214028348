import { FileFetchError } from '../delivery/file-fetch-error.ts';
import type { FileSource } from '../delivery/send-steps.ts';

/**
 * Slack files are fetched from their private download URL with the bot token (scope `files:read`) and streamed
 * through to Chatwoot, never held whole in memory. Slack answers a download it will not allow with its HTML sign-in
 * page (status 200), so the content type is checked too.
 */
export function slackFileSource(options: { botToken: string; fetch?: typeof fetch }): FileSource {
  const fetcher = options.fetch ?? fetch;
  return async (source, signal) => {
    if (!/^https?:\/\//.test(source)) {
      throw new FileFetchError('The file’s Slack address is not valid.', 'Post the file again.', false);
    }
    let response: Response;
    try {
      response = await fetcher(source, {
        headers: { authorization: `Bearer ${options.botToken}` },
        redirect: 'manual',
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      throw new FileFetchError(
        `The file could not be fetched from Slack (${error instanceof Error ? error.message : String(error)}).`,
        'The bridge tries again; if Slack stays unreachable, post the file again later.',
        true,
      );
    }
    const type = response.headers.get('content-type') ?? '';
    if (response.status === 404 || response.status === 410) {
      throw new FileFetchError('The file was deleted from Slack before it could be sent.', 'Post it again.', false);
    }
    if (
      !response.ok ||
      response.body === null ||
      (response.status >= 300 && response.status < 400) ||
      type.startsWith('text/html')
    ) {
      const permanent = response.status < 500;
      throw new FileFetchError(
        permanent
          ? 'Slack did not let the bridge download the file (the app may lack the files:read scope).'
          : `Slack answered ${response.status} when the bridge downloaded the file.`,
        permanent
          ? 'Ask whoever runs the bridge to reinstall the Slack app from manifest.yml, then post the file again.'
          : 'The bridge tries again.',
        !permanent,
      );
    }
    return response.body;
  };
}
