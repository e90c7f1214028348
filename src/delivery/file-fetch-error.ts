/** A file to send could not be fetched from where it lives (Slack); `retryable` when trying later may work. */
export class FileFetchError extends Error {
  override readonly name = 'FileFetchError';
  readonly retryable: boolean;
  readonly advice: string;
  constructor(message: string, advice: string, retryable: boolean) {
    super(message);
    this.advice = advice;
    this.retryable = retryable;
  }
}
