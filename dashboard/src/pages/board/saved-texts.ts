import { defineTexts } from '../../i18n.svelte.ts';

/** The words of the report's "saved by automations" section, German first. */
export const savedTexts = defineTexts(
  {
    heading: 'Eingespart durch Automationen',
    intro:
      'Geschätzt, nicht gemessen: was nicht verbraucht wurde, weil eine Automation (ein Integrations-Token, etwa Node-RED) ein Gerät ausgeschaltet oder eine Heizung abgesenkt hat. Getrennt vom gemessenen Stromverbrauch oben und nicht darin enthalten.',
    switchedOffTitle: 'Strom: Geräte ausgeschaltet',
    setBackTitle: 'Wärme: Heizung abgesenkt',
    nothing: 'nichts geschätzt',
    co2Location: 'CO₂e ortsbezogen',
    co2Market: 'CO₂e marktbezogen',
    co2Heat: 'CO₂e der Wärme ({factor} g/kWh)',
    co2HeatMissing: 'kein Emissionsfaktor der Heizung (heating_co2_g_per_kwh) in der Standortdatei',
    switchedOffScope: 'Ausgänge: {outputs} · zusammen {hours} Std. aus · Abschaltungen: {spans}',
    setBackScope: 'Räume: {rooms} · {degreeHours} Kelvinstunden · Absenkungen: {spans}',
    switchedOffMethod:
      'So geschätzt: gemessene mittlere Leistung des Ausgangs in der Stunde vor dem Ausschalten × Stunden, die er aus blieb (bis zum nächsten Einschalten oder bis er wieder Strom zieht).',
    setBackMethod:
      'So geschätzt (Gradstunden-Modell): Wärmeverlustkoeffizient des Raums aus der Standortdatei (W/K) × Absenkung gegenüber dem Sollwert davor (K) × Stunden. Eine Obergrenze: der Raum kühlt verzögert ab und wird vor der nächsten Buchung wieder aufgeheizt.',
    withoutPower:
      '{count} Abschaltungen ohne Leistungswert in der Stunde davor: in den Stunden, nicht in den kWh.',
    withoutHeatLoss: 'Ohne Wärmeverlustkoeffizient in der Standortdatei (nur in den Kelvinstunden): {rooms}.',
    heatUnit: 'kWh Wärme',
  },
  {
    heading: 'Saved by automations',
    intro:
      'Estimated, not measured: what was not used because an automation (an integration token, such as Node-RED) switched a device off or set a heating back. Apart from the metered electricity above and not part of it.',
    switchedOffTitle: 'Electricity: devices switched off',
    setBackTitle: 'Heat: heating set back',
    nothing: 'nothing estimated',
    co2Location: 'CO₂e location-based',
    co2Market: 'CO₂e market-based',
    co2Heat: 'CO₂e of the heat ({factor} g/kWh)',
    co2HeatMissing: 'no emission factor of the heating (heating_co2_g_per_kwh) in the site file',
    switchedOffScope: 'Outputs: {outputs} · {hours} h off in all · switched off: {spans} times',
    setBackScope: 'Rooms: {rooms} · {degreeHours} kelvin-hours · setbacks: {spans}',
    switchedOffMethod:
      'How it is estimated: the output’s measured mean power in the hour before it was switched off × the hours it stayed off (until switched on again, or drawing power again).',
    setBackMethod:
      'How it is estimated (degree-hours model): the room’s heat-loss coefficient from the site file (W/K) × the reduction below the setpoint before (K) × the hours. An upper bound: the room cools with a lag and is heated up again before the next booking.',
    withoutPower:
      '{count} switch-offs without a power figure for the hour before: in the hours, not in the kWh.',
    withoutHeatLoss: 'No heat-loss coefficient in the site file (in the kelvin-hours only): {rooms}.',
    heatUnit: 'kWh of heat',
  },
);
