import type { ComponentChildren } from 'preact';
import { useErrorBoundary } from 'preact/hooks';

/**
 * A page that throws while it draws (a bug, or data of a shape it did not expect) shows what failed
 * and a way to draw it again, inside the page's region: the header, the navigation and the other
 * pages keep working, instead of the whole dashboard going blank. The error is also logged on the
 * browser's console. Moving to another page starts that page afresh (main.tsx keys this by path).
 */
export function PageBoundary({ children }: { children: ComponentChildren }) {
  const [error, reset] = useErrorBoundary((e: unknown) => console.error('orrery dashboard: a page failed to draw', e));
  if (!error) return <>{children}</>;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <section>
      <h1>This page failed</h1>
      <p class="error" role="alert">
        It could not be drawn: {message}{' '}
        <button type="button" class="link" onClick={reset}>
          Try again
        </button>
      </p>
    </section>
  );
}
