/** The URL a provider sends an instance's webhooks to (the ingress route `POST /hooks/{token}`). */
export function webhookUrlOf(publicUrl: string, webhookToken: string | null): string {
  return `${publicUrl}/hooks/${webhookToken}`;
}
