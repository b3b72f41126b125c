/**
 * The web app's pages by path, written once: the server answers 200 with the app for these
 * (and the paths under them) and 404 with the app for any other page-like path, which the
 * app shows as "not found"; the app's top bar takes its pages from the same list. Shared with the web app as it is,
 * so this file imports nothing.
 */
export const WEB_PAGES = [
  '/desk',
  '/supervisor',
  '/search',
  '/reports',
  '/wallboard',
  '/admin',
  '/contacts',
] as const;
export type WebPage = (typeof WEB_PAGES)[number];

/** The page a path shows ('/' is the home page of whoever is signed in), if any. */
export function webPageOf(path: string): WebPage | '/' | undefined {
  if (path === '/' || path === '') return '/';
  return WEB_PAGES.find((page) => path === page || path.startsWith(`${page}/`));
}
