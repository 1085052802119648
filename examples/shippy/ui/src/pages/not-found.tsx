import { PageHeading } from '../components.tsx';
import { Link } from '../router.tsx';

/** Any path the UI has no page for: said so, with the address, and a way back. */
export function NotFoundPage({ path, signedIn }: { readonly path: string; readonly signedIn: boolean }) {
  return (
    <div className="narrow">
      <PageHeading>Page not found</PageHeading>
      <div className="card">
        <p>
          shippy has no page at <span className="mono">{path}</span>. Check the address, or go to{' '}
          {signedIn ? (
            <Link to="/consignments">your consignments</Link>
          ) : (
            <Link to="/login">the login page</Link>
          )}
          .
        </p>
      </div>
    </div>
  );
}
