/** The report and wallboard shapes, as the server documents them (api-types.ts, generated). */
import type { Schemas } from '../api';

/** GET /api/reports */
export type Report = Schemas['Report'];
export type ReportFigures = Schemas['ReportFigures'];
export type ReportGroup = Schemas['ReportGroup'];
export type ReportBucket = Report['series'][number];
/** GET /api/wallboard */
export type Wallboard = Schemas['Wallboard'];
