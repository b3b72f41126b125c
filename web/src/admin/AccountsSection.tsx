import { getCountries, getCountryCallingCode } from 'libphonenumber-js';
import { api } from '../api';
import { useArchivable } from './Archiving';
import { numberOrNull, numberText, textOrUndefined } from './convert';
import { EntityForm } from './EntityForm';
import { FieldGrid, SelectField, TextField } from './fields';
import { type FormSlot, ResourceSection } from './ResourceSection';
import type { Account } from './types';
import { useDraft } from './useDraft';

/**
 * Twilio accounts. The API lists SIDs only; an account can be renamed and its credentials
 * rotated (checked with Twilio again), but its Account SID never changes.
 */
export function AccountsSection() {
  const archivable = useArchivable<Account>('/api/admin/accounts');
  return (
    <ResourceSection
      title="Accounts"
      noun="account"
      intro="Twilio credentials Parley sends with and checks webhooks against. Secrets are encrypted at rest and never shown again; Parley checks them with Twilio when you save."
      list={archivable.list}
      archive={archivable}
      rowLabel={(account) => account.name}
      columns={[
        { header: 'Name', cell: (a) => a.name },
        { header: 'Account SID', cell: (a) => a.accountSid },
        { header: 'API Key SID', cell: (a) => a.apiKeySid ?? '—' },
        { header: 'Country', cell: (a) => a.defaultCountry },
        {
          header: 'Retention',
          cell: (a) => (a.retentionDays === null ? 'For ever' : `${a.retentionDays} days`),
        },
        { header: 'Added', cell: (a) => new Date(a.createdAt).toLocaleDateString() },
      ]}
      renderForm={(slot) => <AccountForm {...slot} />}
    />
  );
}

function AccountForm({ row, onSaved, onCancel }: FormSlot<Account>) {
  const form = useDraft({
    name: row?.name ?? '',
    accountSid: row?.accountSid ?? '',
    authToken: '',
    apiKeySid: row?.apiKeySid ?? '',
    apiKeySecret: '',
    defaultCountry: row?.defaultCountry ?? 'US',
    retentionDays: numberText(row?.retentionDays),
  });
  const { draft } = form;

  const save = async () => {
    if (row) {
      const keySid = draft.apiKeySid.trim();
      const account = await api<Account>(`/api/admin/accounts/${row.id}`, {
        method: 'PATCH',
        body: {
          name: draft.name,
          defaultCountry: draft.defaultCountry,
          retentionDays: numberOrNull(draft.retentionDays),
          // Empty secrets keep what is stored; a new key pair, or no key, replaces it.
          authToken: draft.authToken === '' ? undefined : draft.authToken,
          ...(keySid === '' && row.apiKeySid !== null && { apiKeySid: null }),
          ...(draft.apiKeySecret !== '' && { apiKeySid: keySid, apiKeySecret: draft.apiKeySecret }),
        },
      });
      onSaved(`Saved account “${account.name}”.`);
      return;
    }
    const account = await api<Account>('/api/admin/accounts', {
      body: {
        name: draft.name,
        defaultCountry: draft.defaultCountry,
        retentionDays: numberOrNull(draft.retentionDays),
        accountSid: draft.accountSid.trim(),
        authToken: draft.authToken,
        // The key pair is optional, and goes together: both or neither.
        apiKeySid: textOrUndefined(draft.apiKeySid),
        apiKeySecret: draft.apiKeySecret === '' ? undefined : draft.apiKeySecret,
      },
    });
    onSaved(`Added account “${account.name}”; Twilio accepted its credentials.`);
  };

  return (
    <EntityForm
      title={row ? `Edit account ${row.name}` : 'New account'}
      form={form}
      onSave={save}
      onCancel={onCancel}
      saveLabel="Check and save"
    >
      <FieldGrid>
        <TextField label="Name" required {...form.bind('name')} />
        <TextField
          label="Account SID"
          required
          placeholder="AC…"
          autoComplete="off"
          help={
            row
              ? 'An account keeps its SID; add another account for another project.'
              : 'AC followed by 32 hex digits, from the Twilio Console.'
          }
          readOnly={row !== null}
          {...form.bind('accountSid')}
        />
        <TextField
          label="Auth Token"
          type="password"
          required={row === null}
          autoComplete="new-password"
          help={
            row
              ? 'Leave empty to keep the stored token; a new one is checked with Twilio.'
              : undefined
          }
          {...form.bind('authToken')}
        />
      </FieldGrid>
      <FieldGrid>
        <TextField
          label="API Key SID"
          placeholder="SK…"
          autoComplete="off"
          help="Optional: send with an API key instead of the Auth Token."
          {...form.bind('apiKeySid')}
        />
        <TextField
          label="API Key secret"
          type="password"
          autoComplete="new-password"
          help={
            row?.apiKeySid
              ? 'Leave empty to keep the stored key; clear the SID to stop using a key.'
              : 'Required with an API Key SID.'
          }
          {...form.bind('apiKeySecret')}
        />
      </FieldGrid>
      <FieldGrid>
        <SelectField
          label="Default country"
          options={COUNTRY_CHOICES}
          help="Numbers typed without a country code, such as (425) 230-6549, are read in this country, on the account's numbers and by its agents. 14252306549 and +14252306549 need none."
          {...form.bind('defaultCountry')}
        />
        <TextField
          label="Keep messages for (days)"
          type="number"
          min={1}
          step={1}
          help="Message texts, media and internal notes on the account's numbers older than this are removed every hour; conversations, times and report figures stay. Empty: kept for ever."
          {...form.bind('retentionDays')}
        />
      </FieldGrid>
    </EntityForm>
  );
}

const countryNames = new Intl.DisplayNames(['en'], { type: 'region' });

/** Every country whose numbers Parley reads, by name, with its calling code. */
const COUNTRY_CHOICES = getCountries()
  .map((code) => ({
    value: code,
    label: `${countryNames.of(code) ?? code} (+${getCountryCallingCode(code)})`,
  }))
  .sort((a, b) => a.label.localeCompare(b.label));
