import { Box } from '@twilio-paste/core/box';
import { Checkbox, CheckboxGroup } from '@twilio-paste/core/checkbox';
import { HelpText } from '@twilio-paste/core/help-text';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Option, Select } from '@twilio-paste/core/select';
import { Switch } from '@twilio-paste/core/switch';
import { TextArea } from '@twilio-paste/core/textarea';
import type { ChangeEvent, ReactNode } from 'react';
import type { Bound } from './useDraft';

/** Label, control, and the help line that turns into the error when the server refuses. */
interface FieldChrome {
  label: string;
  help?: ReactNode;
  required?: boolean;
}

type TextProps = Bound<string> & FieldChrome;

/**
 * The labelled frame of a text-like control, and the props every such control shares: its
 * id and name, the value as text, the error state and the help line it is described by.
 */
function Field({
  field,
  children,
}: {
  field: TextProps;
  children: (control: ReturnType<typeof controlProps>) => ReactNode;
}) {
  const { id, label, help, error, required } = field;
  return (
    <Box>
      <Label htmlFor={id} required={required}>
        {label}
      </Label>
      {children(controlProps(field))}
      {(error ?? help) && (
        <HelpText id={`${id}-help`} variant={error ? 'error' : 'default'}>
          {error ?? help}
        </HelpText>
      )}
    </Box>
  );
}

function controlProps({ id, value, onChange, error, help, required }: TextProps) {
  return {
    id,
    name: id,
    value,
    required,
    hasError: Boolean(error),
    'aria-describedby': error || help ? `${id}-help` : undefined,
    onChange: (event: ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) =>
      onChange(event.target.value),
  };
}

export function TextField({
  type = 'text',
  placeholder,
  autoComplete,
  readOnly,
  min,
  max,
  step,
  maxLength,
  insertAfter,
  ...field
}: TextProps & {
  type?: 'text' | 'email' | 'password' | 'url' | 'number';
  placeholder?: string;
  autoComplete?: string;
  readOnly?: boolean;
  min?: number;
  max?: number;
  step?: number | 'any';
  maxLength?: number;
  insertAfter?: ReactNode;
}) {
  return (
    <Field field={field}>
      {(control) => (
        <Input
          {...control}
          type={type}
          placeholder={placeholder}
          autoComplete={autoComplete}
          readOnly={readOnly}
          min={min}
          max={max}
          step={step}
          maxLength={maxLength}
          insertAfter={insertAfter}
        />
      )}
    </Field>
  );
}

export function TextAreaField({
  maxLength,
  placeholder,
  ...field
}: TextProps & { maxLength?: number; placeholder?: string }) {
  return (
    <Field field={field}>
      {(control) => (
        <TextArea
          {...control}
          maxLength={maxLength}
          placeholder={placeholder}
          resize="vertical"
          maxRows={8}
        />
      )}
    </Field>
  );
}

export interface Choice {
  value: string;
  label: string;
}

export function SelectField({
  options,
  disabled,
  ...field
}: TextProps & { options: Choice[]; disabled?: boolean }) {
  return (
    <Field field={field}>
      {(control) => (
        <Select {...control} disabled={disabled}>
          {options.map((option) => (
            <Option key={option.value} value={option.value}>
              {option.label}
            </Option>
          ))}
        </Select>
      )}
    </Field>
  );
}

/** An on/off setting; Paste's Switch renders its own label and help line. */
export function SwitchField({
  id,
  value,
  onChange,
  error,
  label,
  help,
  disabled,
}: Bound<boolean> & FieldChrome & { disabled?: boolean }) {
  return (
    <Switch
      id={id}
      name={id}
      checked={value}
      onChange={(event) => onChange(event.target.checked)}
      hasError={Boolean(error)}
      helpText={error ?? help}
      disabled={disabled}
    >
      {label}
    </Switch>
  );
}

/** Several of a list (a queue's members); the value is the chosen ids. */
export function ChecklistField({
  id,
  value,
  onChange,
  error,
  label,
  help,
  options,
}: Bound<string[]> & FieldChrome & { options: Choice[] }) {
  const toggle = (choice: string, on: boolean) =>
    onChange(on ? [...value, choice] : value.filter((v) => v !== choice));
  return (
    <CheckboxGroup
      id={id}
      name={id}
      legend={label}
      helpText={help}
      errorText={error}
      orientation="horizontal"
    >
      {options.map((option) => (
        <Checkbox
          key={option.value}
          id={`${id}-${option.value}`}
          value={option.value}
          checked={value.includes(option.value)}
          onChange={(event) => toggle(option.value, event.target.checked)}
        >
          {option.label}
        </Checkbox>
      ))}
    </CheckboxGroup>
  );
}

/** Fields side by side where there is room, one above the other on a phone. */
export function FieldGrid({ children }: { children: ReactNode }) {
  return (
    <Box
      display="grid"
      gridTemplateColumns={['1fr', '1fr 1fr']}
      columnGap="space60"
      rowGap="space60"
      alignItems="start"
    >
      {children}
    </Box>
  );
}
