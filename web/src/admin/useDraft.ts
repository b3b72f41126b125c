import { type FormEvent, useId, useState } from 'react';
import { ApiError, errorText } from '../api';

/** What a field component needs from the form: wire it with `{...form.bind('name')}`. */
export interface Bound<V> {
  id: string;
  value: V;
  onChange: (value: V) => void;
  error?: string | undefined;
  /**
   * Where inside a list field the error is: "2.opensAt" for `hours.2.opensAt`, "billing" for
   * `skills.billing`, so that the row at fault can show it.
   */
  errorAt?: string | undefined;
}

export interface DraftForm<D> {
  draft: D;
  set: <K extends keyof D>(name: K, value: D[K]) => void;
  bind: <K extends keyof D & string>(name: K) => Bound<D[K]>;
  /** What the last failure said, shown in a Callout at the top of the form: one line each. */
  formErrors: string[];
  busy: boolean;
  /** An onSubmit handler: runs `save`, and on failure shows the server's message. */
  submit: (save: () => Promise<void>) => (event: FormEvent) => void;
}

interface FieldError {
  field: string;
  at: string | undefined;
  message: string;
}

/**
 * The state of one create/edit form. Draft keys are the API's field names, so that each of a
 * 400's problems ("offerTimeoutSeconds", "hours.2.opensAt") lands on the control at fault,
 * all of them at once.
 */
export function useDraft<D extends object>(initial: D): DraftForm<D> {
  const prefix = useId();
  const [draft, setDraft] = useState(initial);
  const [fieldErrors, setFieldErrors] = useState<FieldError[]>([]);
  const [formErrors, setFormErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);

  const fieldId = (name: string) => `${prefix}-${name}`;

  const set = <K extends keyof D>(name: K, value: D[K]) => {
    setDraft((current) => ({ ...current, [name]: value }));
    // Editing a field at fault answers its error, next to it and in the Callout above.
    const answered = fieldErrors.filter((error) => error.field === name);
    if (answered.length > 0) {
      setFieldErrors((current) => current.filter((error) => error.field !== name));
      setFormErrors((current) =>
        current.filter((line) => !answered.some((e) => e.message === line)),
      );
    }
  };

  const bind = <K extends keyof D & string>(name: K): Bound<D[K]> => {
    const error = fieldErrors.find((e) => e.field === name);
    return {
      id: fieldId(name),
      value: draft[name],
      onChange: (value: D[K]) => set(name, value),
      error: error?.message,
      errorAt: error?.at,
    };
  };

  const submit = (save: () => Promise<void>) => (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setFormErrors([]);
    setFieldErrors([]);
    save()
      .catch((failure: unknown) => {
        const errors = fieldErrorsOf(failure, Object.keys(initial));
        setFieldErrors(errors);
        setFormErrors(
          failure instanceof ApiError && failure.problems.length > 0
            ? failure.problems.map((problem) => problem.message)
            : [errorText(failure)],
        );
        const first = errors[0];
        if (!first) return;
        // Keyboard and screen-reader users land on the first control to fix.
        requestAnimationFrame(() => focusControl(document.getElementById(fieldId(first.field))));
      })
      .finally(() => setBusy(false));
  };

  return { draft, set, bind, formErrors, busy, submit };
}

/** The draft fields a failure is about (the first segment of each problem's field) we have. */
function fieldErrorsOf(failure: unknown, known: string[]): FieldError[] {
  if (!(failure instanceof ApiError)) return [];
  return failure.problems.flatMap((problem) => {
    const [field = '', ...rest] = (problem.field ?? '').split('.');
    if (!known.includes(field)) return [];
    return [{ field, at: rest.length ? rest.join('.') : undefined, message: problem.message }];
  });
}

/** The control itself, or inside a list field (hours, skills) the input marked invalid. */
function focusControl(field: HTMLElement | null): void {
  const controls = 'input, select, textarea';
  const target = field?.matches(controls)
    ? field
    : (field?.querySelector<HTMLElement>('[aria-invalid="true"]') ??
      field?.querySelector<HTMLElement>(controls));
  target?.focus();
}
