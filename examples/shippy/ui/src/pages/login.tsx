import type { FormEvent } from 'react';
import { rpc, type User } from '../api.ts';
import { Field, FormEnd, fieldProps, Notice, PageHeading } from '../components.tsx';
import type { FieldSpec } from '../form.ts';
import { useForm } from '../hooks.ts';
import { Link } from '../router.tsx';
import { type Session, tokenSubject } from '../session.ts';

interface Props {
  /** Why the user is here: logged out, or the session expired. */
  readonly note: string | undefined;
  readonly onSignIn: (session: Session) => void;
}

const email: FieldSpec = {
  name: 'email',
  id: 'login-email',
  what: 'the email address',
  blank: 'Enter your email address',
};
const password: FieldSpec = {
  name: 'password',
  id: 'login-password',
  what: 'the password',
  blank: 'Enter your password',
};
const specs = [email, password];

export function LoginPage({ note, onSignIn }: Props) {
  const form = useForm();

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const values = { email: String(data.get('email')).trim(), password: String(data.get('password')) };
    form.submit({
      specs,
      values,
      action: async () => {
        const { token } = await rpc<{ token: string }>('user', 'UserService.Auth', values);
        const userId = tokenSubject(token);
        // Auth answers only the token; the header greets the user by name.
        const { user } = await rpc<{ user?: User }>('user', 'UserService.Get', { id: userId }, token);
        onSignIn({ token, userId, email: values.email, name: user?.name ?? '' });
        return '';
      },
    });
  };

  return (
    <div className="narrow">
      <PageHeading>Log in</PageHeading>
      {!form.failure && <Notice>{note}</Notice>}
      <form className="card" onSubmit={onSubmit} noValidate>
        <Field label="Email" {...fieldProps(form, email)} type="email" autoComplete="email" required />
        <Field
          label="Password"
          {...fieldProps(form, password)}
          type="password"
          autoComplete="current-password"
          required
        />
        <FormEnd form={form} specs={specs} label="Log in" busyLabel="Logging in…" />
      </form>
      <p>
        New to shippy? <Link to="/register">Create an account</Link>
      </p>
    </div>
  );
}
