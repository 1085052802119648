import type { FormEvent } from 'react';
import { rpc, type User } from '../api.ts';
import { Field, FormEnd, fieldProps, PageHeading } from '../components.tsx';
import type { FieldSpec } from '../form.ts';
import { useForm } from '../hooks.ts';
import { Link } from '../router.tsx';
import type { Session } from '../session.ts';

// The user service's limits (issue 12's contract), checked here first.
const name: FieldSpec = {
  name: 'name',
  id: 'register-name',
  what: 'your name',
  blank: 'Enter your name',
  maxLength: 100,
};
const company: FieldSpec = {
  name: 'company',
  id: 'register-company',
  what: 'the company name',
  maxLength: 100,
};
const email: FieldSpec = {
  name: 'email',
  id: 'register-email',
  what: 'the email address',
  blank: 'Enter your email address',
  email: true,
};
const password: FieldSpec = {
  name: 'password',
  id: 'register-password',
  what: 'the password',
  blank: 'Choose a password of at least 8 characters',
  minLength: 8,
  maxLength: 200,
};
const specs = [name, company, email, password];

export function RegisterPage({ onSignIn }: { readonly onSignIn: (session: Session) => void }) {
  const form = useForm();

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const request = {
      name: String(data.get('name')).trim(),
      company: String(data.get('company')).trim(),
      email: String(data.get('email')).trim(),
      // Spaces are part of a password: never trimmed.
      password: String(data.get('password')),
    };
    form.submit({
      specs,
      values: request,
      action: async () => {
        const { user, token } = await rpc<{ user: User; token: string }>(
          'user',
          'UserService.Create',
          request,
        );
        onSignIn({ token, userId: user.id ?? '', email: user.email ?? request.email, name: user.name ?? '' });
        return '';
      },
    });
  };

  return (
    <div className="narrow">
      <PageHeading>Create an account</PageHeading>
      <form className="card" onSubmit={onSubmit} noValidate>
        <Field label="Name" {...fieldProps(form, name)} autoComplete="name" required maxLength={100} />
        <Field
          label="Company"
          {...fieldProps(form, company)}
          autoComplete="organization"
          maxLength={100}
          hint="Optional"
        />
        <Field label="Email" {...fieldProps(form, email)} type="email" autoComplete="email" required />
        <Field
          label="Password"
          {...fieldProps(form, password)}
          type="password"
          autoComplete="new-password"
          required
          hint="At least 8 characters"
        />
        <FormEnd form={form} specs={specs} label="Create account" busyLabel="Creating account…" />
      </form>
      <p>
        Already registered? <Link to="/login">Log in</Link>
      </p>
    </div>
  );
}
