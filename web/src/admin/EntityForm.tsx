import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Callout, CalloutHeading } from '@twilio-paste/core/callout';
import { Card } from '@twilio-paste/core/card';
import { Form, FormActions, FormSection, FormSectionHeading } from '@twilio-paste/core/form';
import { Heading } from '@twilio-paste/core/heading';
import { ListItem, UnorderedList } from '@twilio-paste/core/list';
import { type ReactNode, useEffect, useId, useRef } from 'react';
import { NoticeCallout } from './NoticeCallout';
import type { DraftForm } from './useDraft';

/**
 * The frame of every create/edit form: a heading, the server's refusal in a Callout next to
 * the fields, and Save/Cancel. The children are the fields.
 */
export function EntityForm<D>({
  title,
  form,
  onSave,
  onCancel,
  saveLabel = 'Save',
  children,
}: {
  title: string;
  form: DraftForm<D>;
  onSave: () => Promise<void>;
  onCancel: () => void;
  saveLabel?: string;
  children: ReactNode;
}) {
  const headingId = useId();
  const ref = useRef<HTMLDivElement>(null);

  // Opening a form (from a row's Edit, say) takes the keyboard to its first field.
  useEffect(() => {
    const box = ref.current;
    box?.scrollIntoView({ block: 'nearest' });
    box?.querySelector<HTMLElement>('input:not([type=hidden]), select, textarea')?.focus();
  }, []);

  return (
    <Box ref={ref}>
      <Card padding={['space50', 'space70']}>
        <Form aria-labelledby={headingId} onSubmit={form.submit(onSave)} noValidate>
          <Heading as="h2" id={headingId} variant="heading30" marginBottom="space0">
            {title}
          </Heading>
          {form.formErrors.length === 1 && (
            <NoticeCallout variant="error">{form.formErrors[0]}</NoticeCallout>
          )}
          {form.formErrors.length > 1 && (
            <Callout variant="error" role="alert">
              <CalloutHeading as="h3">Fix these to save</CalloutHeading>
              <UnorderedList marginBottom="space0">
                {form.formErrors.map((line) => (
                  <ListItem key={line}>{line}</ListItem>
                ))}
              </UnorderedList>
            </Callout>
          )}
          {children}
          <FormActions>
            <Button type="submit" variant="primary" loading={form.busy}>
              {saveLabel}
            </Button>
            <Button type="button" variant="secondary" onClick={onCancel}>
              Cancel
            </Button>
          </FormActions>
        </Form>
      </Card>
    </Box>
  );
}

/** A titled group of fields inside a long form (a flow's hours, its messages, …). */
export function FieldSet({ title, children }: { title: string; children: ReactNode }) {
  return (
    <FormSection>
      <FormSectionHeading variant="heading40">{title}</FormSectionHeading>
      {children}
    </FormSection>
  );
}
