import type { Page } from '../context.js'
import { note } from '../dom.js'

export const qualityPage: Page = (root) => {
  root.replaceChildren(note('not yet'))
  return () => {}
}
