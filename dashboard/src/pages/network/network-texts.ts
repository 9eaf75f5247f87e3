import { defineTexts } from '../../i18n.svelte.ts';

/** The network report's own words, German first; figure names and units are the board report's. */
export const networkTexts = defineTexts(
  {
    title: 'Bericht des Netzwerks',
    notAllowed:
      'Der Bericht des Netzwerks ist dem Vorstand aller Häuser vorbehalten: Ihr Konto ist nicht in jedem Haus im Vorstand oder in der Verwaltung.',
    houses: '{count} Häuser',
    figure: 'Kennzahl',
    total: 'Netzwerk gesamt',
    coverage: 'Messdaten für {share}',
    bookingsElsewhere: 'keine Buchungen erfasst',
    coverageNote:
      'Jede Zahl mit dem Anteil der Zählerstunden, auf dem sie steht (Hauptzähler für Strom und CO₂e, CO₂-Sensoren für gute Luft). Die Summe des Netzwerks zählt die Häuser zusammen: Mengen addiert, Anteile als Summe der Zähler durch Summe der Nenner, nie als Mittel der Häuser. Ein Haus ohne Wert fehlt in Zähler und Nenner.',
    factorsNote: 'Jedes Haus mit seinen eigenen Emissionsfaktoren und seiner Zeitzone.',
    csv: 'Alle Zahlen als CSV',
  },
  {
    title: 'Network report',
    notAllowed:
      'The network report is for the board of every house: your account is not on the board or the administration in every house.',
    houses: '{count} houses',
    figure: 'Figure',
    total: 'Network total',
    coverage: 'metered data for {share}',
    bookingsElsewhere: 'no bookings on record',
    coverageNote:
      "Each number with the share of meter-hours it stands on (main meters for electricity and CO₂e, CO₂ sensors for good air). The network's total adds the houses up: quantities summed, shares as the sum of numerators over the sum of denominators, never as a mean of the houses. A house without a value is left out of both.",
    factorsNote: 'Each house with its own emission factors and time zone.',
    csv: 'All figures as CSV',
  },
);
