/**
 * The report's sections, in page order. Each reads what the runs hold (record fields, CSV files,
 * images) and returns HTML, or null when none of the runs has anything for it: the contents
 * follow from the files, so a command the report does not know still gets its settings and files.
 */
import { explanationSection, faithfulnessSection, tokenSection } from './explanation_sections.js';
import { projectionSection } from './projection_sections.js';
import { filesSection, resultsSection, settingsSection } from './run_sections.js';
import type { SectionDef } from './section.js';
import { confusionSection, curvesSection, misclassifiedSection } from './training_sections.js';

export { POINT_CAP, evenSample } from './projection_sections.js';
export { describeRun } from './run_sections.js';
export { resultsOf, type SectionContext, type SectionDef } from './section.js';

/** Every section, in page order. A new kind of output is one more entry here. */
export const SECTIONS: readonly SectionDef[] = [
  resultsSection, curvesSection, confusionSection, misclassifiedSection, projectionSection,
  faithfulnessSection, tokenSection, explanationSection, settingsSection, filesSection,
];
