import type { Page } from '../context.js'
import { note } from '../dom.js'

export const reportPage: Page = (root) => {
  root.replaceChildren(note('not yet'))
  return () => {}
}
