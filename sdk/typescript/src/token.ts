import type { Interceptor } from "@connectrpc/connect";

/** The token to send: the one given, else IA_TOKEN (in Node), else none. */
export function resolveToken(token?: string): string | undefined {
  if (token) return token;
  const env = typeof process === "undefined" ? undefined : process.env?.IA_TOKEN;
  return env || undefined;
}

/** Interceptors that send `authorization: Bearer <token>` on every call; none without a token. */
export function bearerInterceptors(token?: string): Interceptor[] {
  const resolved = resolveToken(token);
  if (!resolved) return [];
  const header = `Bearer ${resolved}`;
  return [
    (next) => async (request) => {
      request.header.set("authorization", header);
      return next(request);
    },
  ];
}
