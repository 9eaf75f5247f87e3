import { ApiFailure, api } from '../../api-client.ts';
import {
  comparePeriods,
  lastCompletePeriod,
  type Period,
  parsePeriod,
  periodLabel,
  periodOf,
} from './report-periods.ts';

export type ReportStatus = 'loading' | 'ready' | 'signing-in' | 'forbidden' | 'failed';

export interface ReportRequestOptions {
  /** The report's API route for a house: null, the house the API serves; else another of the network. */
  route: (site: string | null) => string;
  /** The page's own path, where signing in comes back to. */
  page: string;
  /** The page has a site switch: `?site=` is read and kept in the address bar. */
  withSite?: boolean;
}

/**
 * What a report page (the house's board report, the common-good balance, the network report) asks the API for:
 * a period, and on some pages a house. The choice lives in the address bar, so that the page is always a link
 * the board can pass on and Back returns to the period before; a missing, unreadable or future period becomes
 * the last month that has ended, visibly. An answer to an earlier choice that arrives after a later one is
 * dropped, so a quick reader never sees the wrong month under the right title. Made in a component's script
 * (its effects belong to that component).
 */
export class ReportRequest<T> {
  period: Period;
  site: string | null;
  status: ReportStatus = $state('loading');
  failure = $state('');
  report: T | null = $state(null);
  /** The period that has begun most recently, of the chosen kind: the last one the choice offers. */
  readonly latest: Period;
  private retries = $state(0);
  private asked = 0;
  private readonly today: { year: number; month: number };

  constructor(private readonly options: ReportRequestOptions) {
    const now = new Date();
    this.today = { year: now.getFullYear(), month: now.getMonth() + 1 };
    const first = this.periodFromUrl();
    this.period = $state(first);
    this.site = $state(options.withSite ? siteFromUrl() : null);
    this.latest = $derived(periodOf(this.period.kind, this.today));
    if (new URLSearchParams(location.search).get('period') !== periodLabel(first)) {
      history.replaceState(null, '', this.urlFor(first, this.site));
    }
    $effect(() => {
      const onPopState = () => {
        this.period = this.periodFromUrl();
        if (this.options.withSite) this.site = siteFromUrl();
      };
      window.addEventListener('popstate', onPopState);
      return () => window.removeEventListener('popstate', onPopState);
    });
    $effect(() => {
      void this.retries;
      void this.load(periodLabel(this.period), this.site);
    });
  }

  choose(chosen: Period): void {
    if (periodLabel(chosen) === periodLabel(this.period)) return;
    this.period = chosen;
    history.pushState(null, '', this.urlFor(chosen, this.site));
  }

  chooseSite(chosen: string | null): void {
    if (chosen === this.site) return;
    this.site = chosen;
    history.pushState(null, '', this.urlFor(this.period, chosen));
  }

  /** Refused, on the way to sign in, or failed: no report to show, whatever was shown before. */
  get withoutReport(): boolean {
    return this.status === 'forbidden' || this.status === 'signing-in' || this.status === 'failed';
  }

  retry(): void {
    this.retries++;
  }

  /** The URL's period; the default when it has none, cannot be read, or has not begun (nothing to report). */
  private periodFromUrl(): Period {
    const asked = parsePeriod(new URLSearchParams(location.search).get('period'));
    if (!asked || comparePeriods(asked, periodOf(asked.kind, this.today)) > 0) {
      return lastCompletePeriod('month', this.today);
    }
    return asked;
  }

  private urlFor(chosen: Period, chosenSite: string | null): string {
    const url = new URL(location.href);
    url.searchParams.set('period', periodLabel(chosen));
    if (this.options.withSite) {
      if (chosenSite === null) url.searchParams.delete('site');
      else url.searchParams.set('site', chosenSite);
    }
    return `${url.pathname}${url.search}`;
  }

  private async load(label: string, chosenSite: string | null): Promise<void> {
    const mine = ++this.asked;
    this.status = 'loading';
    try {
      const answer = await api.get<T>(
        `${this.options.route(chosenSite)}?period=${encodeURIComponent(label)}`,
      );
      if (mine !== this.asked) return;
      this.report = answer;
      this.status = 'ready';
    } catch (err) {
      if (mine !== this.asked) return;
      if (err instanceof ApiFailure && err.status === 401) {
        this.status = 'signing-in';
        location.assign(`/?next=${encodeURIComponent(`${this.options.page}?period=${label}`)}`);
      } else if (err instanceof ApiFailure && err.status === 403) {
        this.status = 'forbidden';
      } else {
        this.failure = err instanceof Error ? err.message : String(err);
        this.status = 'failed';
      }
    }
  }
}

/** Another house of the network (the site switch); null: the one this API serves. */
function siteFromUrl(): string | null {
  return new URLSearchParams(location.search).get('site');
}
