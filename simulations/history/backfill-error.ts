/**
 * What a person gave the history that it cannot take: a span or step it does not know, a marker file it
 * cannot read. The CLI prints its message as it is, without a stack.
 */
export class BackfillError extends Error {
  override name = 'BackfillError';
}
