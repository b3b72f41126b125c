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
  /** The last failure, shown in a Callout at the top of the form. */
  formError: string | null;
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
 * The state of one create/edit form. Draft keys are the API's field names, so that a 400's
 * `field` ("offerTimeoutSeconds", "hours.2.opensAt") lands on the control that caused it.
 */
export function useDraft<D extends object>(initial: D): DraftForm<D> {
  const prefix = useId();
  const [draft, setDraft] = useState(initial);
  const [fieldError, setFieldError] = useState<FieldError | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const fieldId = (name: string) => `${prefix}-${name}`;

  const set = <K extends keyof D>(name: K, value: D[K]) => {
    setDraft((current) => ({ ...current, [name]: value }));
    // Editing the field at fault answers its error, next to it and in the Callout above.
    if (fieldError?.field === name) {
      setFieldError(null);
      setFormError(null);
    }
  };

  const bind = <K extends keyof D & string>(name: K): Bound<D[K]> => {
    const error = fieldError?.field === name ? fieldError : undefined;
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
    setFormError(null);
    setFieldError(null);
    save()
      .catch((failure: unknown) => {
        setFormError(errorText(failure));
        const error = fieldErrorOf(failure, Object.keys(initial));
        if (!error) return;
        setFieldError(error);
        // Keyboard and screen-reader users land on the control to fix.
        requestAnimationFrame(() => focusControl(document.getElementById(fieldId(error.field))));
      })
      .finally(() => setBusy(false));
  };

  return { draft, set, bind, formError, busy, submit };
}

/** The draft field a failure is about (the first segment of the API's `field`), if we have it. */
function fieldErrorOf(failure: unknown, known: string[]): FieldError | undefined {
  if (!(failure instanceof ApiError) || !failure.field) return undefined;
  const [field = '', ...rest] = failure.field.split('.');
  if (!known.includes(field)) return undefined;
  return {
    field,
    at: rest.length ? rest.join('.') : undefined,
    message: withoutPath(failure.message, failure.field),
  };
}

/** Schema errors read "hours.2.opensAt: times are HH:MM"; next to the field the path is noise. */
function withoutPath(message: string, path: string): string {
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
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
