/**
 * The dashboard reads everything from the API it is served by. Browsers send the session cookie
 * (same origin); a lobby screen passes its token from its URL.
 */
export class ApiFailure extends Error {
  override name = 'ApiFailure';
  constructor(
    readonly status: number,
    /** The error name the API sent (`Conflict`, `Unauthorized`, …). */
    readonly code: string | undefined,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** The lobby token from the page's URL (`/lobby?token=…`), passed on to every API call of that page. */
export function pageToken(): string | null {
  return new URLSearchParams(location.search).get('token');
}

function withToken(path: string): string {
  const token = pageToken();
  if (!token) return path;
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(withToken(path), {
    method,
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const error = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    const code = typeof error.error === 'string' ? error.error : undefined;
    const message =
      typeof error.message === 'string' ? error.message : `${response.status} ${response.statusText}`;
    throw new ApiFailure(response.status, code, message, parsed);
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  delete: <T>(path: string) => request<T>('DELETE', path),
  /** The same path with the page's lobby token, for links and downloads (CSV) the browser fetches itself. */
  url: withToken,
};
