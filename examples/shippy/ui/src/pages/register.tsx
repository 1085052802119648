import type { FormEvent } from 'react';
import { rpc, type User } from '../api.ts';
import { ErrorMessage, Field } from '../components.tsx';
import { useSubmit } from '../hooks.ts';
import type { Session } from '../session.ts';

export function RegisterPage({ onSignIn }: { readonly onSignIn: (session: Session) => void }) {
  const submit = useSubmit();

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const request = {
      name: String(form.get('name')),
      company: String(form.get('company')),
      email: String(form.get('email')),
      password: String(form.get('password')),
    };
    void submit.run(async () => {
      const { user, token } = await rpc<{ user: User; token: string }>('user', 'UserService.Create', request);
      onSignIn({ token, userId: user.id ?? '', email: user.email ?? request.email, name: user.name ?? '' });
      return '';
    });
  };

  return (
    <div className="narrow">
      <h1>Create an account</h1>
      <form className="card" onSubmit={onSubmit}>
        <Field label="Name" name="name" autoComplete="name" required maxLength={200} />
        <Field label="Company" name="company" autoComplete="organization" maxLength={200} hint="Optional" />
        <Field label="Email" name="email" type="email" autoComplete="email" required />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          hint="At least 8 characters"
        />
        <ErrorMessage>{submit.error}</ErrorMessage>
        <button type="submit" disabled={submit.busy}>
          {submit.busy ? 'Creating account…' : 'Create account'}
        </button>
      </form>
      <p>
        Already registered? <a href="#/login">Log in</a>
      </p>
    </div>
  );
}
