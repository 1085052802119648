import type { FormEvent } from 'react';
import { rpc, type User } from '../api.ts';
import { ErrorMessage, Field, Notice } from '../components.tsx';
import { useSubmit } from '../hooks.ts';
import { type Session, tokenSubject } from '../session.ts';

interface Props {
  /** Why the user is here: logged out, or the session expired. */
  readonly note: string | undefined;
  readonly onSignIn: (session: Session) => void;
}

export function LoginPage({ note, onSignIn }: Props) {
  const submit = useSubmit();

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get('email'));
    const password = String(form.get('password'));
    void submit.run(async () => {
      const { token } = await rpc<{ token: string }>('user', 'UserService.Auth', { email, password });
      const userId = tokenSubject(token);
      // Auth answers only the token; the header greets the user by name.
      const { user } = await rpc<{ user?: User }>('user', 'UserService.Get', { id: userId }, token);
      onSignIn({ token, userId, email, name: user?.name ?? '' });
      return '';
    });
  };

  return (
    <div className="narrow">
      <h1>Log in</h1>
      {!submit.error && <Notice>{note}</Notice>}
      <form className="card" onSubmit={onSubmit}>
        <Field label="Email" name="email" type="email" autoComplete="email" required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
        <ErrorMessage>{submit.error}</ErrorMessage>
        <button type="submit" disabled={submit.busy}>
          {submit.busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p>
        New to shippy? <a href="#/register">Create an account</a>
      </p>
    </div>
  );
}
