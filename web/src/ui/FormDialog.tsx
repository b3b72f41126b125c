import { Button } from '@twilio-paste/core/button';
import {
  Modal,
  ModalBody,
  ModalFooter,
  ModalFooterActions,
  ModalHeader,
  ModalHeading,
} from '@twilio-paste/core/modal';
import { Stack } from '@twilio-paste/core/stack';
import { type FormEvent, type ReactNode, useId } from 'react';
import { ErrorCallout } from './ErrorCallout';

/**
 * A modal form: heading, the server's refusal on top, the fields, Cancel and the action.
 * Enter in a field submits; Escape and Cancel close; focus stays inside while open.
 */
export function FormDialog({
  heading,
  isOpen,
  onClose,
  onSubmit,
  submitLabel,
  busy,
  canSubmit = true,
  error,
  children,
}: {
  heading: string;
  isOpen: boolean;
  onClose: () => void;
  onSubmit: () => void;
  submitLabel: string;
  busy: boolean;
  canSubmit?: boolean;
  error: string | null;
  children: ReactNode;
}) {
  const headingId = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit();
  };
  return (
    <Modal isOpen={isOpen} onDismiss={onClose} size="default" ariaLabelledby={headingId}>
      <form onSubmit={submit} aria-labelledby={headingId}>
        <ModalHeader>
          <ModalHeading as="h2" id={headingId}>
            {heading}
          </ModalHeading>
        </ModalHeader>
        <ModalBody>
          <Stack orientation="vertical" spacing="space50">
            {error && <ErrorCallout>{error}</ErrorCallout>}
            {children}
          </Stack>
        </ModalBody>
        <ModalFooter>
          <ModalFooterActions>
            <Button variant="secondary" onClick={onClose}>
              Cancel
            </Button>
            <Button variant="primary" type="submit" loading={busy} disabled={!canSubmit}>
              {submitLabel}
            </Button>
          </ModalFooterActions>
        </ModalFooter>
      </form>
    </Modal>
  );
}
