import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';

import { describeError } from './api';
import { navigate } from './router';

export function Link(props: { href: string; children: ComponentChildren; class?: string; current?: boolean }) {
  const onClick = (event: MouseEvent) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={props.href} class={props.class} onClick={onClick} aria-current={props.current ? 'page' : undefined}>
      {props.children}
    </a>
  );
}

/** Loads data on mount and when `deps` change; `reload` runs it again. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): { data?: T; error?: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: useCallback(() => setTick((t) => t + 1), []) };
}

export function Loading(props: { what?: string }) {
  return (
    <p class="muted" role="status">
      Loading {props.what ?? ''}…
    </p>
  );
}

export function ErrorNote(props: { error: unknown }) {
  return (
    <p class="error" role="alert">
      {describeError(props.error)}
    </p>
  );
}

export function Async<T>(props: {
  state: { data?: T; error?: unknown; loading: boolean };
  what?: string;
  children: (data: T) => JSX.Element;
}) {
  if (props.state.error) return <ErrorNote error={props.state.error} />;
  if (props.state.data === undefined) return <Loading what={props.what} />;
  return props.children(props.state.data);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function short(id: string): string {
  return id.slice(0, 8);
}

/**
 * A secret shown once: the value, a copy button and the warning. Dismissing it
 * drops it from memory; no later view can show it again.
 */
export function SecretOnce(props: { label: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const id = useId();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied(true);
    } catch {
      const field = document.getElementById(id) as HTMLInputElement | null;
      field?.select();
    }
  };
  return (
    <section class="secret" aria-labelledby={`${id}-title`} data-testid="secret-once">
      <h3 id={`${id}-title`}>{props.label}</h3>
      <p class="warning">Shown once. Store it in your secret manager now: this console and the API will never show it again.</p>
      <div class="row">
        <input id={id} class="mono wide" readOnly value={props.secret} aria-label={props.label} data-testid="secret-value" />
        <button type="button" onClick={copy}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" onClick={props.onDone}>
          I have stored it
        </button>
      </div>
    </section>
  );
}

/**
 * A destructive action: a button that opens a short form saying what will
 * happen, asking for a reason, and confirming with a second button.
 */
export function DangerAction(props: {
  label: string;
  confirmLabel: string;
  explain: string;
  reasonLabel?: string;
  needsReason?: boolean;
  /** Not destructive, only asks for a note (resolving an alert): drawn in the calm style. */
  calm?: boolean;
  onConfirm: (reason: string) => Promise<void>;
}) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const id = useId();
  const needsReason = props.needsReason ?? true;
  // Focus moves into the form when it opens (autofocus alone fires once per document), so a keyboard user types the reason at once.
  const form = useRef<HTMLFormElement>(null);
  useLayoutEffect(() => {
    // No reason to type: focus Cancel, so a second Enter never confirms by accident.
    if (open) form.current?.querySelector<HTMLElement>('input, button.cancel')?.focus();
  }, [open]);
  if (!open)
    return (
      <button type="button" class={props.calm ? '' : 'danger'} onClick={() => setOpen(true)}>
        {props.label}…
      </button>
    );
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await props.onConfirm(reason.trim());
      setOpen(false);
      setReason('');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class={props.calm ? 'confirm calm' : 'confirm'} onSubmit={submit} ref={form}>
      <p>{props.explain}</p>
      {needsReason && (
        <>
          <label for={id}>{props.reasonLabel ?? 'Reason (recorded in the audit log)'}</label>
          <input id={id} class="wide" required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </>
      )}
      <div class="row">
        <button type="submit" class={props.calm ? '' : 'danger'} disabled={busy || (needsReason && !reason.trim())}>
          {props.confirmLabel}
        </button>
        <button type="button" class="cancel" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
      {error !== undefined && <ErrorNote error={error} />}
    </form>
  );
}

/** A button that runs an action, shows it is busy, and shows the error if any. */
export function ActionButton(props: { label: string; run: () => Promise<void>; class?: string; disabled?: boolean }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const click = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.run();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span>
      <button type="button" class={props.class} onClick={click} disabled={busy || props.disabled}>
        {props.label}
      </button>
      {error !== undefined && <ErrorNote error={error} />}
    </span>
  );
}

export function Flags(props: { flags: string[] }) {
  if (!props.flags.length) return <span class="muted">none</span>;
  return (
    <span>
      {props.flags.map((f) => (
        <span key={f} class={`flag flag-${f}`}>
          {f.replace(/_/g, ' ')}
        </span>
      ))}
    </span>
  );
}

export function Status(props: { value: string }) {
  return <span class={`status status-${props.value}`}>{props.value.replace(/_/g, ' ')}</span>;
}
