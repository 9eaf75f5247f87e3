/**
 * Sign-in decisions the page makes without the API: where to go afterwards, and what a refusal means to
 * the person at the form. Pure, so both can be tested on their own.
 */

/**
 * The page to continue to after signing in, from `/?next=…`; null unless it is a dashboard page of this
 * very origin. Anything else (`https://evil.example`, `//evil.example`, `/\evil.example`, `javascript:`)
 * would turn our sign-in form into someone else's phishing link, so it is dropped, not repaired.
 */
export function safeNextPath(
  raw: string | null,
  origin: string,
  isPage: (pathname: string) => boolean,
): string | null {
  if (!raw?.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\')) return null;
  let url: URL;
  try {
    url = new URL(raw, origin);
  } catch {
    return null;
  }
  if (url.origin !== origin || !isPage(url.pathname)) return null;
  return `${url.pathname}${url.search}${url.hash}`;
}

export type SignInProblem =
  | { kind: 'wrong' }
  | { kind: 'waiting'; seconds: number | null }
  | { kind: 'rate_limited'; minutes: number | null }
  | { kind: 'invalid' }
  | { kind: 'unavailable'; detail: string };

/**
 * What a failed sign-in means. The API answers 401 for a wrong e-mail or password (the same for both),
 * and 429 both for a wait after failed attempts ("try again in 5 s" / "in 3 min") and for too many
 * attempts from this device; only the message tells them apart.
 */
export function signInProblem(status: number, message: string): SignInProblem {
  const minutesMatch = /(\d+)\s*min/.exec(message);
  const minutes = minutesMatch ? Number(minutesMatch[1]) : null;
  if (status === 401) return { kind: 'wrong' };
  if (status === 429 && /failed sign-ins/i.test(message)) {
    const wait = /(\d+)\s*(s|min)\b/.exec(message);
    const seconds = wait ? Number(wait[1]) * (wait[2] === 'min' ? 60 : 1) : null;
    return { kind: 'waiting', seconds };
  }
  if (status === 429) return { kind: 'rate_limited', minutes };
  if (status === 400) return { kind: 'invalid' };
  return { kind: 'unavailable', detail: message };
}
