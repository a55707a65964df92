/**
 * The SQL functions notify-dispatch calls (supabase/migrations/
 * 20261127001400_notification_delivery.sql), one typed function each. Arguments left
 * undefined are not sent (the SQL default applies).
 */
import type { Rpc } from "../edge/db.ts";

export type NotifyRpcName =
  | "claim_notification_deliveries"
  | "record_notification_delivery"
  | "push_receipts_to_check"
  | "record_push_receipts";

async function call<T>(
  rpc: Rpc,
  fn: NotifyRpcName,
  args: Record<string, unknown>,
): Promise<T> {
  const sent: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(args)) {
    if (value !== undefined) sent[name] = value;
  }
  return await rpc(fn, sent) as T;
}

/** One claimed send, as claim_notification_deliveries describes it. */
export interface ClaimedDelivery {
  delivery_id: string;
  claim_id: string;
  channel: "push" | "sms";
  purpose: "service" | "marketing";
  attempt: number;
  notification_id: string;
  type: string;
  language: "sw" | "en";
  title: string;
  body: string;
  data: Record<string, unknown>;
  sms_text: string | null;
  phone: string | null;
  devices: { device_id: string; token: string }[] | null;
}

export function claimNotificationDeliveries(
  rpc: Rpc,
  limit: number,
): Promise<ClaimedDelivery[]> {
  return call(rpc, "claim_notification_deliveries", { p_limit: limit });
}

export type DeliveryOutcome =
  | "sent"
  | "retry"
  | "failed"
  | "unknown"
  | "nothing_to_send";

export interface DeliveryAnswer {
  deliveryId: string;
  claimId: string;
  outcome: DeliveryOutcome;
  error?: string | null;
  providerMessageId?: string | null;
  tickets?: Record<string, string> | null;
  unregisteredDevices?: string[] | null;
}

export interface DeliveryRecorded {
  recorded: boolean;
  status: string;
  attempts?: number;
  next_attempt_at?: string | null;
}

export function recordNotificationDelivery(
  rpc: Rpc,
  a: DeliveryAnswer,
): Promise<DeliveryRecorded> {
  return call(rpc, "record_notification_delivery", {
    p_delivery_id: a.deliveryId,
    p_claim_id: a.claimId,
    p_outcome: a.outcome,
    p_error: a.error ?? undefined,
    p_provider_message_id: a.providerMessageId ?? undefined,
    p_tickets: a.tickets && Object.keys(a.tickets).length
      ? a.tickets
      : undefined,
    p_unregistered_devices: a.unregisteredDevices?.length
      ? a.unregisteredDevices
      : undefined,
  });
}

export interface ReceiptsDue {
  delivery_id: string;
  /** device id → ticket id */
  tickets: Record<string, string>;
}

export function pushReceiptsToCheck(
  rpc: Rpc,
  limit: number,
): Promise<ReceiptsDue[]> {
  return call(rpc, "push_receipts_to_check", { p_limit: limit });
}

export function recordPushReceipts(
  rpc: Rpc,
  deliveryId: string,
  unregistered: string[],
  errors: Record<string, string>,
): Promise<{ recorded: boolean; disabled_devices: number }> {
  return call(rpc, "record_push_receipts", {
    p_delivery_id: deliveryId,
    p_unregistered_devices: unregistered.length ? unregistered : undefined,
    p_errors: Object.keys(errors).length ? errors : undefined,
  });
}
