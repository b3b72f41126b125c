/**
 * The customer-service window and the content templates, as the server documents them
 * (api-types.ts, generated): GET /api/service-window and GET /api/content-templates.
 */
import type { Schemas } from '../api';

/** Whether free text may be sent now, and until when (WhatsApp; SMS always). */
export type ServiceWindow = Schemas['ServiceWindow'];
/** A template the signed-in agent may send from a number. */
export type ContentTemplate = Schemas['ContentTemplate'];
/** A template to send and the values of its placeholders. */
export type TemplateChoice = Schemas['Flow']['windowTemplates'][string];
