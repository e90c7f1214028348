import { ChatwootError, ChatwootRejectedError } from '../chatwoot/errors.ts';
import { ResolveError } from '../conversations/resolve-error.ts';
import { FileFetchError } from './file-fetch-error.ts';
import type { Failure } from './send-record.ts';

type FailureText = Pick<Failure, 'code' | 'message' | 'advice' | 'retryable'>;

export const WINDOW_CLOSED: FailureText = {
  code: 'window_closed',
  message: 'The 24-hour window is closed: the customer has not written in the last 24 hours.',
  advice: 'WhatsApp only accepts an approved template until the customer writes again. Send a template instead.',
  retryable: false,
};

/** What a person should know when Chatwoot refused or could not be reached for good. */
export function failureFromError(error: unknown, at: number): Failure {
  if (error instanceof FileFetchError) {
    return { code: 'file_unavailable', message: error.message, advice: error.advice, retryable: error.retryable, at };
  }
  if (error instanceof ResolveError) {
    return { code: error.code, message: error.summary, advice: error.advice, retryable: false, at };
  }
  if (error instanceof ChatwootRejectedError) {
    return {
      code: 'chatwoot_rejected',
      message: `Chatwoot refused the message: ${error.chatwootMessage}.`,
      advice: 'Nothing was sent. Change the message and send it again.',
      retryable: false,
      at,
    };
  }
  if (error instanceof ChatwootError) {
    if (error.code === 'unauthorized') {
      return {
        code: 'chatwoot_unauthorized',
        message: 'Chatwoot refused the bridge’s credentials, so nothing was sent.',
        advice: `Ask whoever runs the bridge to fix it: ${error.advice}`,
        retryable: true,
        at,
      };
    }
    if (error.code === 'not_found') {
      return {
        code: 'conversation_not_found',
        message: 'The conversation no longer exists in Chatwoot.',
        advice: 'Check the conversation and send again.',
        retryable: false,
        at,
      };
    }
    if (error.code === 'bad_response') {
      return {
        code: 'chatwoot_unexpected',
        message: 'Chatwoot answered in a way the bridge does not understand, so nothing was sent.',
        advice: `Ask whoever runs the bridge to check it: ${error.advice}`,
        retryable: true,
        at,
      };
    }
    return {
      code: 'chatwoot_unavailable',
      message: 'Chatwoot could not be reached for long enough that the bridge gave up; the message was not sent.',
      advice: 'Retry once Chatwoot is back (its status page or administrator will know).',
      retryable: true,
      at,
    };
  }
  return {
    code: 'internal_error',
    message: 'The bridge hit an unexpected problem and did not send the message.',
    advice: 'Retry; if it happens again, ask whoever runs the bridge to check its logs.',
    retryable: true,
    at,
  };
}

/** A few words for a waiting send: why it has not gone out yet. */
export function waitingReason(error: unknown): { code: string; reason: string } {
  if (error instanceof ChatwootError) {
    const reasons: Record<string, string> = {
      rate_limited: 'Chatwoot asked the bridge to slow down',
      server: `Chatwoot is failing${error.status === undefined ? '' : ` (${error.status})`}`,
      network: 'Chatwoot cannot be reached',
      timeout: 'Chatwoot is not answering in time',
      busy: 'Chatwoot is busy',
    };
    return { code: error.code, reason: reasons[error.code] ?? 'Chatwoot had a problem' };
  }
  return { code: 'internal_error', reason: 'the bridge hit a problem' };
}

/** WhatsApp's error codes (as Chatwoot stores them: `"131047: Re-engagement message"`) in words people can act on. */
const WHATSAPP_ERRORS: Record<string, { message: string; advice: string; retryable: boolean }> = {
  '131047': {
    message: 'WhatsApp refused it: more than 24 hours have passed since the customer last wrote.',
    advice: 'Send an approved template instead; free text works again once the customer answers.',
    retryable: false,
  },
  '470': {
    message: 'WhatsApp refused it: more than 24 hours have passed since the customer last wrote.',
    advice: 'Send an approved template instead; free text works again once the customer answers.',
    retryable: false,
  },
  '131026': {
    message: 'WhatsApp could not deliver it: the number may not use WhatsApp, or its app is too old.',
    advice: 'Check the number, or reach the customer another way.',
    retryable: false,
  },
  '131056': {
    message: 'WhatsApp refused it: too many messages to this customer in a short time.',
    advice: 'Wait a minute, then retry.',
    retryable: true,
  },
  '130429': {
    message: 'WhatsApp refused it: your business number reached its sending rate.',
    advice: 'Retry in a moment.',
    retryable: true,
  },
  '131048': {
    message: 'WhatsApp limited your number because too many recipients reported or blocked it.',
    advice: 'Check your number’s quality rating in WhatsApp Manager before sending more.',
    retryable: false,
  },
  '131049': {
    message: 'WhatsApp held it back to limit marketing messages this customer receives.',
    advice: 'Try again later, or send a utility template if the message is not marketing.',
    retryable: false,
  },
  '131030': {
    message: 'WhatsApp refused it: the number is not on your test number’s allowed list.',
    advice: 'Add the number in Meta’s developer console, or move to a production number.',
    retryable: false,
  },
  '131031': {
    message: 'WhatsApp has locked your business account.',
    advice: 'Check WhatsApp Manager for the reason; nothing can be sent until it is resolved.',
    retryable: false,
  },
  '131042': {
    message: 'WhatsApp refused it because of a payment problem on your business account.',
    advice: 'Fix the payment method in WhatsApp Manager, then retry.',
    retryable: true,
  },
  '131053': {
    message: 'WhatsApp could not process the attached media.',
    advice: 'Check the file type and size, then send it again.',
    retryable: false,
  },
  '131000': {
    message: 'WhatsApp had an internal problem.',
    advice: 'Retry.',
    retryable: true,
  },
  '368': {
    message: 'WhatsApp has temporarily blocked your number for policy violations.',
    advice: 'Check WhatsApp Manager; sending resumes when the block ends.',
    retryable: false,
  },
};

/** Turns Chatwoot's `external_error` into a failure; unknown errors keep WhatsApp's own words. */
export function failureFromWhatsApp(externalError: string | undefined, at: number): Failure {
  const text = externalError?.trim() ?? '';
  if (/template not found or invalid template name/i.test(text)) {
    return { ...WINDOW_CLOSED, whatsappError: text, at };
  }
  const code = /^\(?#?(\d{3,6})\)?/.exec(text)?.[1];
  const known = code === undefined ? undefined : WHATSAPP_ERRORS[code];
  if (known !== undefined) return { code: 'whatsapp_failed', ...known, whatsappError: text, at };
  return {
    code: 'whatsapp_failed',
    message: text === '' ? 'WhatsApp did not accept the message.' : `WhatsApp did not accept the message: ${text}.`,
    advice: 'Check the conversation in Chatwoot for details, then retry if it makes sense.',
    retryable: true,
    ...(text === '' ? {} : { whatsappError: text }),
    at,
  };
}
