// The REST client of the console: the token lives in sessionStorage (asked once per browser tab),
// every call sends it as a bearer token, and every failure becomes an Error with a readable message.
const KEY = 'pollgate.token';
const BASE = '/elements/api-v2';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(method, path, body, tokenValue = token.get()) {
  let res;
  try {
    res = await fetch(BASE + path, {
      method,
      headers: { authorization: `Bearer ${tokenValue}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `the gateway cannot be reached (${err.message})`);
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const message = res.status === 401 ? 'the API token was refused (401): check it and sign in again' : `${method} ${path}: ${res.status} ${data?.message ?? res.statusText}`;
    throw new ApiError(res.status, message);
  }
  return data;
}
