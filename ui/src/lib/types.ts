// The device API's data: the TypeScript that crates/field-app generates from its Rust
// types (ui/src/lib/api/gen, kept current by `cargo test -p field-app --test
// generated`), re-exported under one name, plus the few words only the UI uses —
// each derived from a generated type, never retyped.

export type * from './api/gen/index';

import type { Checklist, Language, Vocabulary } from './api/gen/index';

/** The interface language. */
export type Lang = Language;
/** The name of one code list in the vocabulary. */
export type VocabList = keyof Vocabulary;
/** The six checklist areas (the keys of `Checklist`). */
export type ChecklistArea = keyof Checklist;
