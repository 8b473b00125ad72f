/**
 * EventHub fans out what happens in the log to server-sent-event listeners: every
 * appended entry, and the ones people watch for (an interval cleared, an allocation
 * done, a checkpoint signed). Listeners that fall behind are dropped by the HTTP layer.
 */
export interface LogEvent {
  readonly event: 'entry' | 'interval-cleared' | 'allocation-done' | 'checkpoint' | 'checkpoint-final';
  readonly data: Record<string, unknown>;
}

export class EventHub {
  private readonly listeners = new Set<(e: LogEvent) => void>();

  /** The listeners now (open event streams). */
  get size(): number {
    return this.listeners.size;
  }

  on(listener: (e: LogEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: LogEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** entryEvents turns an appended transaction into its events. */
  static forEntry(entry: number, type: string, body: Record<string, unknown>): LogEvent[] {
    const events: LogEvent[] = [{ event: 'entry', data: { entry, type } }];
    if (type === 'market.clear') events.push({ event: 'interval-cleared', data: { entry, interval: body.interval, priceMicroPerKwh: body.priceMicroPerKwh, volumeWh: body.volumeWh } });
    if (type === 'allocation.run') events.push({ event: 'allocation-done', data: { entry, month: body.month, allocatedWh: body.allocatedWh } });
    return events;
  }
}
