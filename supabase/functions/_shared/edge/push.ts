/**
 * Sending the push prompt of one pending payment: the path every payment takes, a full
 * checkout (checkout-initiate) or an instalment (instalment-push).
 *
 * 1. `claim_payment_push` — at most one push per payment, whatever the retries; only the
 *    claim hands out the reference to push with (customers never see it) and it opens the
 *    payment window;
 * 2. the provider's adapter pushes the prompt to the customer's phone (M-Pesa's synchronous
 *    push is finished in the background: the reply is applied like a callback);
 * 3. `record_payment_initiation` — initiated, failed (the database closes the payment) or
 *    ambiguous (reconciliation asks later).
 *
 * No state is decided here: each step is one RPC of rpc.ts.
 */
import type { PaymentAdapter, ProviderName } from "../payments/mod.ts";
import { HttpError } from "./http.ts";
import type { Rpc } from "./db.ts";
import * as sql from "./rpc.ts";
import { reportError } from "./observe.ts";

export interface PushDeps {
  serviceRpc: Rpc;
  adapterFor(provider: ProviderName): PaymentAdapter;
  background(task: () => Promise<unknown>, label: string): void;
}

/** The payment to prompt for, as the database described it. */
export interface PaymentToPush {
  paymentId: string;
  provider: ProviderName;
  amount: number;
  msisdn: string;
  /** Shown on the customer's phone where the provider allows a text. */
  description: string;
}

/** Order and payment status as the database reports them after a step. */
export type Status = Pick<sql.PaymentStatus, "order_status" | "payment_status">;

export interface PushOutcome {
  /** False when another caller holds the claim (a retry): nothing was sent. */
  claimed: boolean;
  status: Status;
  /** The end of the payment window the claim opened. */
  expiresAt: string | null;
  failureReason?: string;
}

/**
 * Claims and sends the push of one pending payment. Throws HttpError 503
 * `provider_unavailable` when the provider is not configured (the payment is recorded as
 * failed first: nothing was charged).
 */
export async function pushPayment(
  deps: PushDeps,
  payment: PaymentToPush,
): Promise<PushOutcome> {
  const claim = await sql.claimPaymentPush(deps.serviceRpc, payment.paymentId);
  if (!claim.claimed || !claim.provider_ref) {
    return { claimed: false, status: claim, expiresAt: claim.expires_at };
  }
  const providerRef = claim.provider_ref;
  const expiresAt = claim.expires_at ?? null;

  let adapter: PaymentAdapter;
  try {
    adapter = deps.adapterFor(payment.provider);
  } catch (error) {
    reportError("payment provider not configured:", error);
    await sql.recordPaymentInitiation(deps.serviceRpc, {
      paymentId: payment.paymentId,
      outcome: "failed",
      failureReason: "provider_error",
      detail: { message: "provider not configured" },
    });
    throw new HttpError(
      503,
      "provider_unavailable",
      `${payment.provider} payments are not available right now; nothing was charged`,
      undefined,
      300,
    );
  }
  const request = {
    reference: providerRef,
    amount: payment.amount,
    currency: "TZS" as const,
    msisdn: payment.msisdn,
    description: payment.description,
  };

  if (adapter.capabilities.mode === "sync") {
    // M-Pesa's push blocks until the customer answers: answer now, finish later.
    const recorded = await sql.recordPaymentInitiation(deps.serviceRpc, {
      paymentId: payment.paymentId,
      outcome: "initiated",
    });
    deps.background(async () => {
      const reply = await adapter.initiate(request);
      if (reply.state === "succeeded" || reply.state === "failed") {
        await sql.applyPaymentEvent(deps.serviceRpc, {
          provider: payment.provider,
          providerRef,
          outcome: reply.state,
          providerTxnId: reply.providerTxnId ?? null,
          failureReason: reply.failureReason ?? null,
          source: "initiate_response",
        });
      } else if (reply.state === "ambiguous") {
        await sql.recordPaymentInitiation(deps.serviceRpc, {
          paymentId: payment.paymentId,
          outcome: "ambiguous",
          detail: {
            code: reply.rawCode ?? null,
            message: reply.message ?? null,
          },
        });
      }
    }, `push ${payment.paymentId}`);
    return { claimed: true, status: recorded, expiresAt };
  }

  const reply = await adapter.initiate(request);
  const outcome = reply.state === "succeeded" ? "initiated" : reply.state;
  try {
    const recorded = await sql.recordPaymentInitiation(deps.serviceRpc, {
      paymentId: payment.paymentId,
      outcome,
      providerTxnId: reply.providerTxnId ?? null,
      failureReason: reply.failureReason ?? null,
      detail: {
        code: reply.rawCode ?? null,
        message: reply.message ?? null,
      },
    });
    return {
      claimed: true,
      status: recorded,
      expiresAt,
      ...(reply.failureReason ? { failureReason: reply.failureReason } : {}),
    };
  } catch (error) {
    // The prompt went out but we could not record it: reconciliation will ask the
    // provider (the push was claimed, so it is never sent again).
    reportError("could not record the push outcome:", error);
    return {
      claimed: true,
      status: { order_status: "pending_payment", payment_status: "ambiguous" },
      expiresAt,
    };
  }
}
