// A form's problems as the device's `check_draft` answers them (or a save command's
// refusal), by the field each names (dotted paths: `checklist.health`,
// `terms.caregiver.phone`). Pure, tested in node: which problems belong to a field,
// which one to reveal first. The rules themselves are the device's, never repeated here.

import type { DraftProblem, UserError } from './types';

/** A problem as a form shows it: the device's sentence, where, and whether it stops
 *  the save (a refusal from a save command always does). */
export type Problem = DraftProblem;

/** A save command's refusal as a blocking problem. */
export function refusal(e: UserError): Problem {
  return { ...e, blocks: true };
}

/** Whether `field` is `path` or lies under it (`checklist.health` under `checklist`). */
export function under(field: string | null | undefined, path: string): boolean {
  if (!field) return false;
  return field === path || field.startsWith(path + '.');
}

/** The problems about `path` (or a field under it). */
export function problemsAt(list: readonly Problem[], path: string): Problem[] {
  return list.filter((p) => under(p.field, path));
}

/** The problems that name no field of the form (`paths`): shown together, at the end. */
export function unplaced(list: readonly Problem[], paths: readonly string[]): Problem[] {
  return list.filter((p) => !paths.some((path) => under(p.field, path)));
}

/** The first blocking problem in the form's order (`paths`, top to bottom); one that
 *  names no field of the form comes last. */
export function firstBlocking(list: readonly Problem[], paths: readonly string[]): Problem | null {
  const blocking = list.filter((p) => p.blocks);
  for (const path of paths) {
    const hit = blocking.find((p) => under(p.field, path));
    if (hit) return hit;
  }
  return blocking[0] ?? null;
}

/** The form element that shows `field`: the closest `[data-field]` whose path the
 *  field lies under (longest first). */
export function fieldElement(root: ParentNode, field: string | null | undefined): HTMLElement | null {
  if (!field) return null;
  const parts = field.split('.');
  for (let n = parts.length; n > 0; n--) {
    const el = root.querySelector<HTMLElement>(`[data-field="${CSS.escape(parts.slice(0, n).join('.'))}"]`);
    if (el) return el;
  }
  return null;
}

/** Scrolls the field at fault to the middle of the screen (clear of a fixed bar at the
 *  bottom and the top bar) and puts the cursor in its first box. */
export function reveal(field: string | null | undefined, root: ParentNode = document): HTMLElement | null {
  const el = fieldElement(root, field) ?? (root.querySelector<HTMLElement>('[data-unplaced]') ?? null);
  if (!el) return null;
  el.scrollIntoView({ block: 'center' });
  const box = el.matches('input, textarea, select') ? el : el.querySelector<HTMLElement>('input:not([type=hidden]), textarea, select');
  box?.focus({ preventScroll: true });
  return el;
}
