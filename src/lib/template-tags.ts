/**
 * The `<%= … %>` tag syntax shared by request templates and templated callbacks: finding tags,
 * replacing them, and spotting a `<%` that is not such a tag. What a tag may name and how its
 * value is escaped belong to each kind of template.
 */
const TAG = /<%=\s*([\s\S]*?)\s*%>/g;

/** Whether `text` may hold a tag at all (the cheap test before any work). */
export function mayHoldTags(text: string): boolean {
  return text.includes('<%');
}

/** The expression inside every tag, trimmed, in order. */
export function tagExpressions(text: string): string[] {
  return [...text.matchAll(TAG)].map((m) => m[1]);
}

/** `text` with every tag replaced by `render(expression, tag)`. */
export function replaceTags(text: string, render: (expression: string, tag: string) => string): string {
  return text.replace(TAG, (tag: string, expression: string) => render(expression, tag));
}

/** The start of the first `<%` outside a tag (`<% code %>`, `<%- x %>`, an unclosed `<%=`), or undefined. */
export function strayTagSyntax(text: string): string | undefined {
  const rest = text.replace(TAG, '');
  const stray = rest.indexOf('<%');
  return stray === -1 ? undefined : rest.slice(stray, stray + 30);
}
