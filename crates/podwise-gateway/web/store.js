// What the browser remembers about its listener: the user id and bearer token issued at
// the end of onboarding. The token is the listener's credential for personal routes.

const STORAGE_KEY = 'podwise.listener';

/** `{userId, token}` of the listener on this browser, or null before onboarding. */
export function listener() {
  try {
    const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
    if (stored && typeof stored.userId === 'string' && typeof stored.token === 'string') {
      return stored;
    }
  } catch {
    // Unreadable storage counts as no listener: onboarding starts again.
  }
  return null;
}

export function rememberListener(userId, token) {
  localStorage.setItem(STORAGE_KEY, JSON.stringify({ userId, token }));
}

export function forgetListener() {
  localStorage.removeItem(STORAGE_KEY);
}
