"""The report's words in every language it speaks.

Every piece of text the report shows is written in the code in English and passed through a
`Translator` as a literal: `t("Win rate")`, or with placeholders, `t("{deals} deals", deals=...)`.
Placeholders receive values already formatted for the locale (and CRM names already escaped where
they go into Plotly). `ITALIAN` maps each English message to its Italian text; a test reads every
`t("...")` literal in the report's code and template and fails when one has no translation, so the
Italian report never shows English. A missing translation at run time falls back to English with a
warning rather than breaking an unattended run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

LANGUAGES = ("en", "it")

ITALIAN: dict[str, str] = {
    # --- page ---
    "Pipeline report": "Report della pipeline",
    "Data as of {date}": "Dati al {date}",
    "amounts in {currency}": "importi in {currency}",
    "trailing window of {days} days": "finestra mobile di {days} giorni",
    "Sections": "Sezioni",
    "Every number in this report is read from the warehouse, built {built_at}.": (
        "Ogni numero di questo report è letto dal warehouse, costruito il {built_at}."
    ),
    "Every number in this report is read from the warehouse.": (
        "Ogni numero di questo report è letto dal warehouse."
    ),
    "Produced by pipeline-analytics {version}.": "Prodotto da pipeline-analytics {version}.",
    # --- availability ---
    "Not available yet: the warehouse has no {table} table.": (
        "Non ancora disponibile: il warehouse non ha la tabella {table}."
    ),
    "Not available yet: {table} has no column {columns}.": (
        "Non ancora disponibile: {table} non ha la colonna {columns}."
    ),
    "Not available yet: {table} has no rows.": "Non ancora disponibile: {table} non ha righe.",
    "Not available yet: no forecast run is stored in the warehouse.": (
        "Non ancora disponibile: nel warehouse non c'è nessuna previsione."
    ),
    "Not available yet: the forecast run has no cash flow for these months.": (
        "Non ancora disponibile: la previsione non ha flussi di cassa per questi mesi."
    ),
    "Not available yet: no deals closed in the trailing window.": (
        "Non ancora disponibile: nessuna trattativa chiusa nella finestra mobile."
    ),
    "Not available yet: mart_kpis_by_period has no quarter.": (
        "Non ancora disponibile: mart_kpis_by_period non ha trimestri."
    ),
    "Not available yet: mart_pipeline_flow has no month in the window.": (
        "Non ancora disponibile: mart_pipeline_flow non ha mesi nella finestra."
    ),
    # --- shared words ---
    "Pipeline": "Pipeline",
    "Pipeline: {pipeline}": "Pipeline: {pipeline}",
    "Won": "Vinte",
    "Lost": "Perse",
    "Stage": "Fase",
    "Deal": "Trattativa",
    "Account": "Cliente",
    "Owner": "Commerciale",
    "Month": "Mese",
    "Open deals": "Trattative aperte",
    "Open pipeline": "Pipeline aperta",
    "Open pipeline ({currency})": "Pipeline aperta ({currency})",
    "Amount ({currency})": "Importo ({currency})",
    "Conversion": "Conversione",
    "Win rate": "Tasso di successo",
    "win rate": "tasso di successo",
    "days": "giorni",
    "deals": "trattative",
    "{deals} deals": "{deals} trattative",
    "{currency} per day": "{currency} al giorno",
    "expected value": "valore atteso",
    "target": "obiettivo",
    "steady": "stabile",
    "(no owner)": "(nessun commerciale)",
    "(no lead source)": "(nessun canale)",
    # --- 1. executive summary ---
    "Executive summary": "Sintesi per la direzione",
    "{quarter} to date ({start} to {end}) against {previous} ({previous_start} to "
    "{previous_end}).": (
        "{quarter} finora (dal {start} al {end}) a confronto con {previous} (dal "
        "{previous_start} al {previous_end})."
    ),
    "{quarter} to date ({start} to {end}); the data has no quarter before it to compare with.": (
        "{quarter} finora (dal {start} al {end}); i dati non hanno un trimestre precedente con "
        "cui confrontarlo."
    ),
    "{quarter} ends within two weeks, so the forecast leads with {next}.": (
        "{quarter} finisce entro due settimane, quindi la previsione parte da {next}."
    ),
    "The smaller figure on each card covers the trailing {days} days.": (
        "Il valore più piccolo di ogni riquadro copre gli ultimi {days} giorni."
    ),
    "Bookings forecast, {quarter}": "Previsione ordini, {quarter}",
    "{basis}; {previous} closed at {previous_won}.": (
        "{basis}; {previous} si è chiuso a {previous_won}."
    ),
    "P50 of the simulated quarter totals": "P50 dei totali trimestrali simulati",
    "{basis}.": "{basis}.",
    "{basis}; {previous} is expected to close at {previous_expected}.": (
        "{basis}; per {previous} è attesa una chiusura a {previous_expected}."
    ),
    "{won} booked so far, {expected} expected by the end of the quarter.": (
        "{won} acquisiti finora, {expected} attesi a fine trimestre."
    ),
    "No target is set for {quarter}.": "Nessun obiettivo impostato per {quarter}.",
    "{won} booked so far; the forecast has no figure for the rest of the quarter.": (
        "{won} acquisiti finora; la previsione non ha un valore per il resto del trimestre."
    ),
    "{expected} expected in {quarter}.": "{expected} attesi in {quarter}.",
    "The forecast has no figure for {quarter}.": "La previsione non ha un valore per {quarter}.",
    "The target for {quarter} is {target}.": "L'obiettivo per {quarter} è {target}.",
    "That is {share} of the target.": "È il {share} dell'obiettivo.",
    "The target is above P90: unlikely to be reached.": (
        "L'obiettivo supera il P90: difficilmente sarà raggiunto."
    ),
    "The target is below P10: very likely to be reached.": (
        "L'obiettivo è sotto il P10: molto probabilmente sarà raggiunto."
    ),
    "The target lies between P10 and P90.": "L'obiettivo è tra il P10 e il P90.",
    "Cash expected, next {days} days": "Incassi attesi, prossimi {days} giorni",
    "Expected collections in the months {first} to {last}.": (
        "Incassi attesi nei mesi da {first} a {last}."
    ),
    "The forecast has no cash flow: no open or won deal in it has an amount.": (
        "La previsione non ha flussi di cassa: nessuna trattativa aperta o vinta ha un importo."
    ),
    "No collections history in the warehouse to compare with; see the cash flow section.": (
        "Nel warehouse non c'è uno storico degli incassi con cui confrontarli; vedi la sezione "
        "sui flussi di cassa."
    ),
    "last {days} days": "ultimi {days} giorni",
    "won ÷ (won + lost), by number of deals": "vinte ÷ (vinte + perse), per numero di trattative",
    "{now} deals closed this quarter and {before} the quarter before: too few to read a change of "
    "win rate.": (
        "{now} trattative chiuse in questo trimestre e {before} nel precedente: troppo poche per "
        "leggere una variazione del tasso di vittoria."
    ),
    "Not measurable this quarter: it needs the win rate, the average won deal and the sales "
    "cycle of won deals.": (
        "Non misurabile in questo trimestre: servono il tasso di vittoria, la trattativa vinta "
        "media e il ciclo di vendita delle trattative vinte."
    ),
    "Not measurable: none of the {won} deals won this quarter has a creation date before its "
    "close date (see Data quality).": (
        "Non misurabile: nessuna delle {won} trattative vinte in questo trimestre ha una data di "
        "creazione precedente alla chiusura (vedi Qualità dei dati)."
    ),
    "No comparison: the previous quarter has no value.": (
        "Nessun confronto: il trimestre precedente non ha un valore."
    ),
    "{what} held steady at {value} (previous quarter {before}).": (
        "{what}: stabile a {value} (trimestre precedente {before})."
    ),
    "{what} rose {change} to {value}, from {before} in the previous quarter.": (
        "{what}: in crescita del {change}, a {value}, da {before} nel trimestre precedente."
    ),
    "{what} fell {change} to {value}, from {before} in the previous quarter.": (
        "{what}: in calo del {change}, a {value}, da {before} nel trimestre precedente."
    ),
    "{arrow} {points} points": "{arrow} {points} punti",
    "Win rate rose {points} points to {value}.": (
        "Il tasso di successo è salito di {points} punti, al {value}."
    ),
    "Win rate fell {points} points to {value}.": (
        "Il tasso di successo è sceso di {points} punti, al {value}."
    ),
    "Win rate rose {points} points to {value}, driven by {step} (conversion {before} → {now}).": (
        "Il tasso di successo è salito di {points} punti, al {value}, soprattutto per {step} "
        "(conversione {before} → {now})."
    ),
    "Win rate fell {points} points to {value}, driven by {step} (conversion {before} → {now}).": (
        "Il tasso di successo è sceso di {points} punti, al {value}, soprattutto per {step} "
        "(conversione {before} → {now})."
    ),
    "Average won deal": "Valore medio delle vinte",
    "Sales cycle, won deals": "Ciclo di vendita, trattative vinte",
    "mean days from creation to close": "giorni medi dalla creazione alla chiusura",
    "open pipeline now": "pipeline aperta ora",
    "open deals": "trattative aperte",
    "Won deals closed {days} days faster than in the previous quarter.": (
        "Le trattative vinte si sono chiuse {days} giorni prima rispetto al trimestre precedente."
    ),
    "Won deals closed {days} days slower than in the previous quarter.": (
        "Le trattative vinte si sono chiuse {days} giorni più tardi rispetto al trimestre "
        "precedente."
    ),
    "Sales velocity per day": "Velocità di vendita al giorno",
    "open deals × win rate × average won deal ÷ mean cycle days, at the period's end": (
        "trattative aperte × tasso di successo × valore medio delle vinte ÷ giorni medi del "
        "ciclo, a fine periodo"
    ),
    "Step": "Passaggio",
    "Conversion, previous quarter": "Conversione, trimestre precedente",
    "Conversion, this quarter": "Conversione, questo trimestre",
    "Change (points)": "Variazione (punti)",
    "Closed deals through the step, this quarter": (
        "Trattative chiuse passate di qui, questo trimestre"
    ),
    "Stage conversion of the deals closed in each quarter": (
        "Conversione per fase delle trattative chiuse in ciascun trimestre"
    ),
    # --- 2. forecast ---
    "Forecast": "Previsione",
    "Won amount per month; the current month, shown lighter, runs to {date}.": (
        "Importo vinto per mese; il mese in corso, più chiaro, arriva al {date}."
    ),
    "Forecast run {run} of {date}, method {method}.": (
        "Previsione n. {run} del {date}, metodo {method}."
    ),
    "The forecast was skipped in the latest run: {message}": (
        "Nell'ultima esecuzione la previsione è stata saltata: {message}"
    ),
    "The forecast failed in the latest run: {message}": (
        "Nell'ultima esecuzione la previsione non è riuscita: {message}"
    ),
    "The stored forecast, run {run} of {date}, predates it and is not shown.": (
        "La previsione salvata, n. {run} del {date}, è precedente e non viene mostrata."
    ),
    "The engine leads: it forecast best in the backtest.": (
        "In testa c'è il motore: nella verifica retrospettiva ha previsto meglio di tutti."
    ),
    "{method} leads: it forecast better than the engine in the backtest.": (
        "In testa c'è {method}: nella verifica retrospettiva ha previsto meglio del motore."
    ),
    "{method} leads: it forecast better than the engine and each simple method alone in the "
    "backtest.": (
        "In testa c'è {method}: nella verifica retrospettiva ha previsto meglio del motore e di "
        "ciascun metodo semplice da solo."
    ),
    "{method} leads by default: the backtest has too few month-ends to choose a method by its "
    "record.": (
        "In testa c'è {method} per difetto: la verifica retrospettiva ha troppo pochi fine mese "
        "per scegliere un metodo in base ai risultati."
    ),
    "{method} leads by default: there is no backtest yet to choose a method by its record.": (
        "In testa c'è {method} per difetto: non c'è ancora una verifica retrospettiva per "
        "scegliere un metodo in base ai risultati."
    ),
    "{method} leads.": "In testa c'è {method}.",
    "The backtest does not back this number: {method} forecast better than the engine at every "
    "horizon. The next forecast run will headline the method that forecast best.": (
        "La verifica retrospettiva non sostiene questo numero: {method} ha previsto meglio del "
        "motore a ogni orizzonte. La prossima previsione metterà in testa il metodo che ha "
        "previsto meglio."
    ),
    "The engine leads by default: the backtest has too few month-ends to choose a method by its "
    "record.": (
        "In testa c'è il motore per difetto: la verifica retrospettiva ha troppo pochi fine mese "
        "per scegliere un metodo in base ai risultati."
    ),
    "The engine leads by default: there is no backtest yet to choose a method by its record.": (
        "In testa c'è il motore per difetto: non c'è ancora una verifica retrospettiva per "
        "scegliere un metodo in base ai risultati."
    ),
    "The backtest forecast every method from {origins} past month-ends and compared the result "
    "with what was then booked.": (
        "La verifica retrospettiva ha previsto con ogni metodo da {origins} fine mese passati e "
        "ha confrontato il risultato con gli ordini poi acquisiti."
    ),
    "One month ahead, the typical error (WAPE) was {leader} for the engine and {rival} for the "
    "best other method, {method}.": (
        "A un mese, l'errore tipico (WAPE) è stato del {leader} per il motore e del {rival} per "
        "il migliore degli altri metodi, {method}."
    ),
    "{months} months ahead, the typical error (WAPE) was {leader} for the engine and {rival} "
    "for the best other method, {method}.": (
        "A {months} mesi, l'errore tipico (WAPE) è stato del {leader} per il motore e del "
        "{rival} per il migliore degli altri metodi, {method}."
    ),
    "One month ahead, the typical error (WAPE) was {leader} for {method} and {engine} for the "
    "engine.": (
        "A un mese, l'errore tipico (WAPE) è stato del {leader} per {method} e del {engine} per "
        "il motore."
    ),
    "{months} months ahead, the typical error (WAPE) was {leader} for {method} and {engine} for "
    "the engine.": (
        "A {months} mesi, l'errore tipico (WAPE) è stato del {leader} per {method} e del "
        "{engine} per il motore."
    ),
    "The P10–P90 band is widened ×{scale} from the backtest's errors: it held the actual "
    "bookings {before} of the time as simulated, {after} once widened.": (
        "La banda P10–P90 è allargata ×{scale} in base agli errori della verifica retrospettiva: "
        "conteneva gli ordini effettivi nel {before} dei casi così come simulata, nel {after} "
        "una volta allargata."
    ),
    "The P10–P90 band is narrowed ×{scale} from the backtest's errors: it held the actual "
    "bookings {before} of the time as simulated, {after} once narrowed.": (
        "La banda P10–P90 è ristretta ×{scale} in base agli errori della verifica "
        "retrospettiva: conteneva gli ordini effettivi nel {before} dei casi così come simulata, "
        "nel {after} una volta ristretta."
    ),
    "The P10–P90 band is scaled ×{scale} from the backtest's errors.": (
        "La banda P10–P90 è riscalata ×{scale} in base agli errori della verifica retrospettiva."
    ),
    "These are the engine's components: they show where bookings would come from, while the "
    "headline above is {method}'s forecast.": (
        "Queste sono le componenti del motore: mostrano da dove verrebbero gli ordini, mentre la "
        "previsione principale qui sopra è quella di {method}."
    ),
    "This run stores expected values only (method {method}); P10–P90 bands appear with a "
    "simulated forecast.": (
        "Questa previsione contiene solo valori attesi (metodo {method}); le bande P10–P90 "
        "compaiono con una previsione simulata."
    ),
    "This run forecasts the open pipeline only: deals not yet created and bookings already "
    "closed are not in the line.": (
        "Questa previsione copre solo la pipeline aperta: la linea non comprende le trattative "
        "non ancora create né gli ordini già chiusi."
    ),
    "Where the forecast comes from": "Da dove viene la previsione",
    "{month} {to_date}<br>Won {amount} in {deals} deals": (
        "{month} {to_date}<br>Vinti {amount} in {deals} trattative"
    ),
    "to date": "finora",
    "Forecast P50": "Previsione P50",
    "Forecast (expected)": "Previsione (attesa)",
    "P10–P90 {low} – {high}": "P10–P90 {low} – {high}",
    "Closed to date": "Chiuso finora",
    "New pipeline": "Nuova pipeline",
    "Total": "Totale",
    "Expected": "Atteso",
    "Forecast bookings by month": "Ordini previsti per mese",
    "The biggest deals behind it": "Le trattative che pesano di più",
    "Open deals with the largest expected value": "Trattative aperte con il valore atteso più alto",
    "Win probability": "Probabilità di vincita",
    "Expected close": "Chiusura attesa",
    "Expected value ({currency})": "Valore atteso ({currency})",
    "Share of the open deals' value": "Quota del valore delle trattative aperte",
    "How the open deals were forecast: {parts}.": (
        "Come sono state previste le trattative aperte: {parts}."
    ),
    "{deals} {how}": "{deals} {how}",
    "from their stage's history at their age": "dalla storia della loro fase alla loro età",
    "from all stages pooled, their stage having too little history": (
        "da tutte le fasi insieme, perché la loro fase ha poca storia"
    ),
    "older than the history reaches, from its oldest ages": (
        "più vecchie di quanto arrivi lo storico, dalle sue età più alte"
    ),
    "from what became of past deals of the same age (won, lost or still open), their stage "
    "having no history": (
        "da come sono finite le trattative passate della stessa età (vinte, perse o ancora "
        "aperte), perché la loro fase non ha storia"
    ),
    "from the CRM's or the configured probability, timed by the usual sales cycle": (
        "dalla probabilità del CRM o della configurazione, con i tempi del ciclo di vendita "
        "abituale"
    ),
    "from the overall historical win rate and sales cycle": (
        "dal tasso di successo storico complessivo e dal ciclo di vendita"
    ),
    "left out: no deal has closed yet, so there is no win rate to learn from": (
        "escluse: nessuna trattativa si è ancora chiusa, quindi non c'è un tasso di successo da "
        "cui imparare"
    ),
    "The open pipeline may be overstated: {reason}": (
        "La pipeline aperta potrebbe essere sovrastimata: {reason}"
    ),
    "The open pipeline cannot be forecast: {reason}": (
        "La pipeline aperta non si può prevedere: {reason}"
    ),
    "{deals} open deals had no amount and were given the median won amount of similar deals "
    "(marked imputed among the biggest deals).": (
        "{deals} trattative aperte non avevano importo e hanno ricevuto l'importo vinto mediano "
        "di trattative simili (segnate come stimate tra le trattative che pesano di più)."
    ),
    "{deals} open deals have no amount and add nothing to the forecast.": (
        "{deals} trattative aperte non hanno importo e non aggiungono nulla alla previsione."
    ),
    "imputed": "stimato",
    "Expected over {months} months": "Atteso su {months} mesi",
    "What changed since run {run}": "Cosa è cambiato dalla previsione n. {run}",
    "Expected value of open deals, by kind of change: {summary}.": (
        "Valore atteso delle trattative aperte, per tipo di cambiamento: {summary}."
    ),
    "{change}: {deals} deals, {delta}": "{change}: {deals} trattative, {delta}",
    "new open deal": "nuova trattativa aperta",
    "changed": "cambiata",
    "won since": "vinta nel frattempo",
    "lost since": "persa nel frattempo",
    "no longer in the export": "non più nell'esportazione",
    "Change": "Cambiamento",
    "Expected value before ({currency})": "Valore atteso prima ({currency})",
    "Expected value now ({currency})": "Valore atteso ora ({currency})",
    "Difference ({currency})": "Differenza ({currency})",
    "The biggest moves, largest first": "I movimenti maggiori, dal più grande",
    "Against the engine": "Rispetto al motore",
    "Against the headline": "Rispetto alla previsione principale",
    "Cross-checks: simple methods beside the engine (dashed in the chart)": (
        "Verifiche incrociate: metodi semplici accanto al motore (tratteggiati nel grafico)"
    ),
    "Cross-checks: the engine and simple methods beside the headline (dashed in the chart)": (
        "Verifiche incrociate: il motore e i metodi semplici accanto alla previsione principale "
        "(tratteggiati nel grafico)"
    ),
    "The forecast horizon ends before the quarter does: the rest is missing.": (
        "L'orizzonte della previsione finisce prima del trimestre: il resto manca."
    ),
    # --- 3. cash flow ---
    "Cash flow": "Flussi di cassa",
    "Invoices (billings), payments received (collections) and revenue recognised ratably, per "
    "month, from the simulated won deals and the deals already won, under the payment terms in "
    "the config. Bands are P10–P90 of the simulated totals.": (
        "Fatture emesse, pagamenti ricevuti (incassi) e ricavi riconosciuti pro rata, per mese, "
        "dalle trattative vinte simulate e da quelle già vinte, secondo le condizioni di "
        "pagamento della configurazione. Le bande sono P10–P90 dei totali simulati."
    ),
    "Billings": "Fatturato",
    "Collections": "Incassi",
    "Recognized revenue": "Ricavi riconosciuti",
    "Cash flow by month (expected values and P10–P90)": (
        "Flussi di cassa per mese (valori attesi e P10–P90)"
    ),
    # --- 4. funnel ---
    "Funnel": "Imbuto di vendita",
    "Deals that reached each open stage (skipped stages count as passed). Conversion is the "
    "share of deals that left the stage by advancing rather than being lost; open deals are not "
    "counted as losses. Win rate from stage = won ÷ (won + lost) among the deals that reached "
    "it. The flow chart below follows every deal from stage to stage, to won, lost at a stage, "
    "or still open.": (
        "Trattative che hanno raggiunto ciascuna fase aperta (le fasi saltate contano come "
        "superate). La conversione è la quota di trattative uscite dalla fase avanzando anziché "
        "essere perse; le trattative aperte non contano come perse. Tasso di successo dalla "
        "fase = vinte ÷ (vinte + perse) tra le trattative che l'hanno raggiunta. Il diagramma "
        "dei flussi qui sotto segue ogni trattativa di fase in fase, fino a vinta, persa in una "
        "fase o ancora aperta."
    ),
    "{reached} · {conversion} advance": "{reached} · {conversion} avanza",
    "Reached {reached}<br>Advanced {advanced}, lost here {lost}, open here {open}"
    "<br>Conversion {conversion}<br>Win rate from stage {win_rate}": (
        "Raggiunta da {reached}<br>Avanzate {advanced}, perse qui {lost}, aperte qui {open}"
        "<br>Conversione {conversion}<br>Tasso di successo dalla fase {win_rate}"
    ),
    "Still open": "Ancora aperte",
    "Last stage unknown": "Ultima fase ignota",
    "Reached": "Raggiunta da",
    "Advanced": "Avanzate",
    "Lost here": "Perse qui",
    "Open here": "Aperte qui",
    "Win rate from stage": "Tasso di successo dalla fase",
    # --- 5. speed ---
    "Speed": "Velocità",
    "Time in stage": "Tempo nelle fasi",
    "No completed stage stints yet.": "Nessuna permanenza in fase ancora conclusa.",
    "Days spent in each open stage by deals that left it, a deal's returns to a stage added "
    "up. Box: middle half of deals (P25–P75) with the median; whiskers: P10–P90.": (
        "Giorni trascorsi in ciascuna fase aperta dalle trattative che ne sono uscite, sommando "
        "i ritorni nella stessa fase. Scatola: metà centrale delle trattative (P25–P75) con la "
        "mediana; baffi: P10–P90."
    ),
    "Median {median} over {deals} deals<br>Middle half {p25} – {p75}<br>P90 {p90}": (
        "Mediana {median} su {deals} trattative<br>Metà centrale {p25} – {p75}<br>P90 {p90}"
    ),
    "Time to close": "Tempo di chiusura",
    "In per week": "Entrate a settimana",
    "Out per week": "Uscite a settimana",
    "Net per week": "Saldo a settimana",
    "Median days per stay": "Giorni mediani per permanenza",
    "Stage throughput over the trailing {days} days: a positive net means deals pile up.": (
        "Flusso per fase negli ultimi {days} giorni: un saldo positivo indica trattative che si "
        "accumulano."
    ),
    "Days from creation to close of the deals closed in the {days} days to {date}. Median: won "
    "{won_median} ({won} deals), lost {lost_median} ({lost} deals).": (
        "Giorni dalla creazione alla chiusura delle trattative chiuse nei {days} giorni fino al "
        "{date}. Mediana: vinte {won_median} ({won} trattative), perse {lost_median} ({lost} "
        "trattative)."
    ),
    "{deals} closed deals have a close date before their creation date and are left out (see "
    "the data quality checks).": (
        "{deals} trattative chiuse hanno una data di chiusura precedente alla creazione e sono "
        "escluse (vedi i controlli sulla qualità dei dati)."
    ),
    "days from creation to close": "giorni dalla creazione alla chiusura",
    "{bin} days<br>{status} {deals} deals": "{bin} giorni<br>{status}: {deals} trattative",
    "Sales velocity trend": "Andamento della velocità di vendita",
    "Expected bookings per day from the open pipeline at each month's end: open deals × win "
    "rate × average won deal ÷ mean cycle days, over the {days} days before.": (
        "Ordini attesi al giorno dalla pipeline aperta a ogni fine mese: trattative aperte × "
        "tasso di successo × valore medio delle vinte ÷ giorni medi del ciclo, sui {days} giorni "
        "precedenti."
    ),
    "{month}<br>{amount} per day": "{month}<br>{amount} al giorno",
    # --- 6. bottlenecks, team, lead sources ---
    "Bottlenecks and stuck deals": "Colli di bottiglia e trattative ferme",
    "Stages ranked by the days of work they take per deal that moves on (median days in the "
    "stage ÷ conversion), 1 = worst: a stage ranks high by being slow, by losing deals, or "
    "both. A deal is stuck when it has been in its stage longer than 9 in 10 of the deals that "
    "left that stage (P90).": (
        "Fasi ordinate per i giorni di lavoro che richiedono per ogni trattativa che va avanti "
        "(giorni mediani nella fase ÷ conversione), 1 = la peggiore: una fase sale in classifica "
        "se è lenta, se perde trattative o entrambe le cose. Una trattativa è ferma quando è "
        "nella sua fase da più tempo di 9 trattative su 10 tra quelle che ne sono uscite (P90)."
    ),
    "Days per deal moved on": "Giorni per trattativa avanzata",
    "no deal moved on": "nessuna avanzata",
    "Rank": "Posizione",
    "Median days in stage": "Giorni mediani nella fase",
    "Stuck deals": "Trattative ferme",
    "Stuck value ({currency})": "Valore fermo ({currency})",
    "Stuck: {value} in {deals} deals<br>Rank {rank}": (
        "Fermi: {value} in {deals} trattative<br>Posizione {rank}"
    ),
    "The largest stuck deals": "Le trattative ferme più grandi",
    "Stuck open deals, largest first": "Trattative aperte ferme, dalla più grande",
    "No open deal has been in its stage longer than the stage's P90.": (
        "Nessuna trattativa aperta è nella sua fase da più del P90 della fase."
    ),
    "Days in stage": "Giorni nella fase",
    "Stage P90 (days)": "P90 della fase (giorni)",
    "Team": "Squadra di vendita",
    "Open pipeline per owner at the report date; results over the trailing window. Load = the "
    "owner's open deals ÷ the median across owners with open deals: above 1.5 is "
    "over-allocated, below 0.5 under-allocated. Click a column header to sort.": (
        "Pipeline aperta per commerciale alla data del report; risultati sulla finestra mobile. "
        "Carico = trattative aperte del commerciale ÷ la mediana dei commerciali con trattative "
        "aperte: sopra 1,5 è sovraccarico, sotto 0,5 sottoutilizzato. Fate clic "
        "sull'intestazione di una colonna per ordinarla."
    ),
    "Load": "Carico",
    "over-allocated": "sovraccarico",
    "under-allocated": "sottoutilizzato",
    "Avg won deal ({currency})": "Valore medio vinte ({currency})",
    "Median cycle (days)": "Ciclo mediano (giorni)",
    "Velocity per day ({currency})": "Velocità al giorno ({currency})",
    "Lead sources": "Canali di acquisizione",
    "Where won business comes from, over the trailing window: bookings, win rate and speed per "
    "lead source. Bubble size is the open pipeline.": (
        "Da dove arrivano le vendite, sulla finestra mobile: ordini, tasso di successo e "
        "velocità per canale di acquisizione. La dimensione della bolla è la pipeline aperta."
    ),
    "Lead source": "Canale",
    # --- leads (funnel and lead sources, when the warehouse has leads) ---
    "From lead to deal": "Dal lead alla trattativa",
    "Deals by stage": "Trattative per fase",
    "{leads} leads created: {converted} became deals ({deal_rate}) and {won} of those deals "
    "were won ({won_rate} of the leads). Median time from lead to deal: {days}. Not "
    "converted: {open} still open, {expired} expired (older than {expiry} days, counted as "
    "lost).": (
        "{leads} lead creati: {converted} sono diventati trattative ({deal_rate}) e {won} di "
        "queste trattative sono state vinte ({won_rate} dei lead). Tempo mediano dal lead alla "
        "trattativa: {days}. Non convertiti: {open} ancora aperti, {expired} scaduti (più "
        "vecchi di {expiry} giorni, contati come persi)."
    ),
    "Leads": "Lead",
    "Became deals": "Diventati trattative",
    "{count} · {rate} of leads": "{count} · {rate} dei lead",
    "Lead → deal": "Lead → trattativa",
    "Lead → won": "Lead → vinta",
    "Median days to deal": "Giorni mediani alla trattativa",
    "Leads still open": "Lead ancora aperti",
    "Expired leads": "Lead scaduti",
    "Leads by source": "Lead per canale",
    "Deals by source": "Trattative per canale",
    "Every lead created by the report date, by the source it came from: how many became deals "
    "and how many of those deals were won.": (
        "Ogni lead creato entro la data del report, per canale di provenienza: quanti sono "
        "diventati trattative e quante di queste trattative sono state vinte."
    ),
    "Won amount ({currency})": "Importo vinto ({currency})",
    "won amount ({currency})": "importo vinto ({currency})",
    "Win rate {win_rate}<br>Won {won} in {deals} deals<br>Open pipeline {open}": (
        "Tasso di successo {win_rate}<br>Vinti {won} in {deals} trattative<br>Pipeline aperta "
        "{open}"
    ),
    # --- 7. pipeline flow ---
    "Pipeline flow": "Movimenti della pipeline",
    "Open pipeline from {start} ({open_start}) to {end} ({open_end}), month by month over "
    "{months} months: what was created, grew, shrank, was won and was lost.": (
        "Pipeline aperta dal {start} ({open_start}) al {end} ({open_end}), mese per mese su "
        "{months} mesi: cosa è stato creato, è cresciuto, si è ridotto, è stato vinto o perso."
    ),
    "Deals open at both ends of a month whose expected close date moved later (pushed out): "
    "{pushed}; moved earlier (pulled in): {pulled}, summed over the months.": (
        "Trattative aperte a inizio e fine mese con la data di chiusura attesa spostata in "
        "avanti: {pushed}; anticipata: {pulled}, sommate sui mesi."
    ),
    "Open at start": "Aperta all'inizio",
    "Created": "Create",
    "Amounts raised": "Importi aumentati",
    "Amounts cut": "Importi ridotti",
    "Open at end": "Aperta alla fine",
    "Movement": "Movimento",
    # --- 8. forecast accuracy ---
    "Forecast accuracy": "Accuratezza delle previsioni",
    "Each month-end in the history was used as a starting point: the pipeline was rebuilt as it "
    "stood then, forecast, and compared with what was actually booked 1, 2 and 3 months later. "
    "WAPE is the typical error as a share of bookings (lower is better); bias shows whether a "
    "method over- (+) or under-forecasts (−); P10–P90 coverage should be near 80%.": (
        "Ogni fine mese dello storico è stato usato come punto di partenza: la pipeline è stata "
        "ricostruita com'era allora, prevista e confrontata con gli ordini davvero acquisiti 1, "
        "2 e 3 mesi dopo. Il WAPE è l'errore tipico in quota degli ordini (più basso è meglio); "
        "la distorsione indica se un metodo sovrastima (+) o sottostima (−); la copertura "
        "P10–P90 dovrebbe essere vicina all'80%."
    ),
    "The engine has the lowest WAPE at {beaten} of {horizons} horizons.": (
        "Il motore ha il WAPE più basso in {beaten} orizzonti su {horizons}."
    ),
    "Its P10–P90 band held the actual bookings {coverage} of the time.": (
        "La sua banda P10–P90 ha contenuto gli ordini effettivi nel {coverage} dei casi."
    ),
    "Engine": "Motore",
    "Stage-weighted": "Ponderato per fase",
    "CRM-weighted pipeline": "Pipeline ponderata dal CRM",
    "Run rate": "Ritmo recente",
    "Seasonal naive": "Stagionale ingenuo",
    "ETS on bookings": "ETS sugli ordini",
    "Median of the engine and the two best simple methods": (
        "Mediana del motore e dei due metodi semplici migliori"
    ),
    "The backtest was skipped in the latest run: {message}": (
        "Nell'ultima esecuzione la verifica retrospettiva è stata saltata: {message}"
    ),
    "The backtest failed in the latest run: {message}": (
        "Nell'ultima esecuzione la verifica retrospettiva non è riuscita: {message}"
    ),
    "The stored backtest predates it and is not shown.": (
        "La verifica retrospettiva salvata è precedente e non viene mostrata."
    ),
    "P10–P90 coverage of {method} in the backtest: {before} as simulated, {after} recalibrated "
    "(band scaled ×{scale}).": (
        "Copertura P10–P90 di {method} nella verifica retrospettiva: {before} così come "
        "simulata, {after} ricalibrata (banda riscalata ×{scale})."
    ),
    "headline": "in testa",
    "months ahead": "mesi in avanti",
    "{method}, {months} months ahead<br>WAPE {wape} over {origins} origins": (
        "{method}, {months} mesi in avanti<br>WAPE {wape} su {origins} punti di partenza"
    ),
    "Engine P50": "Motore P50",
    "{method} P50": "{method} P50",
    "Actual": "Effettivo",
    "From {origin}: forecast {amount}": "Dal {origin}: previsti {amount}",
    "From {origin}: booked {amount}": "Dal {origin}: acquisiti {amount}",
    "Months ahead": "Mesi in avanti",
    "Method": "Metodo",
    "Origins": "Punti di partenza",
    "Bias": "Distorsione",
    "P10–P90 coverage": "Copertura P10–P90",
    "Pinball loss ({currency})": "Perdita quantile ({currency})",
    "Backtest scores per method and horizon": (
        "Punteggi della verifica retrospettiva per metodo e orizzonte"
    ),
    # --- 9. data quality ---
    "Data quality": "Qualità dei dati",
    "How much of the export could be used and what looks wrong in it. Errors change the "
    "numbers above; warnings are worth fixing in the CRM; information explains a choice.": (
        "Quanto dell'esportazione è stato usato e cosa sembra sbagliato. Gli errori cambiano i "
        "numeri qui sopra; gli avvisi meritano una correzione nel CRM; le informazioni "
        "spiegano una scelta."
    ),
    "Files loaded": "File caricati",
    "No file has been loaded yet.": "Nessun file è stato ancora caricato.",
    "{files} files loaded, the last on {date}: {loaded} of {read} rows used, {rejected} rejected "
    "(`pipeline-analytics rejects` lists each with its line and reason).": (
        "{files} file caricati, l'ultimo il {date}: {loaded} righe usate su {read}, {rejected} "
        "scartate (`pipeline-analytics rejects` le elenca con riga e motivo)."
    ),
    "Rejected rows by reason": "Righe scartate per motivo",
    "Column": "Colonna",
    "Reason (values shown as …)": "Motivo (valori indicati con …)",
    "Rows rejected": "Righe scartate",
    "(whole line)": "(riga intera)",
    "Files": "File",
    "Checks": "Controlli",
    "{failing} of {checks} checks found something.": (
        "{failing} controlli su {checks} hanno trovato qualcosa."
    ),
    "Check": "Controllo",
    "Severity": "Gravità",
    "Deals affected": "Trattative coinvolte",
    "Examples (deal ids)": "Esempi (id delle trattative)",
    "error": "errore",
    "warning": "avviso",
    "information": "informazione",
    # --- 10. method ---
    "Definitions": "Definizioni",
    "Periods: the executive summary compares the quarter to date with the whole quarter before "
    "it. The tables and the smaller figures cover the trailing window, the {days} days up to "
    "{date}: the deals closed in it, and the deals open at its end.": (
        "Periodi: la sintesi confronta il trimestre finora con l'intero trimestre precedente. "
        "Le tabelle e i valori più piccoli coprono la finestra mobile, i {days} giorni fino al "
        "{date}: le trattative chiuse in essa e quelle aperte alla sua fine."
    ),
    "Win rate: won ÷ (won + lost) among the deals closed in the window. Open deals are never "
    "counted as losses.": (
        "Tasso di successo: vinte ÷ (vinte + perse) tra le trattative chiuse nella finestra. Le "
        "trattative aperte non contano mai come perse."
    ),
    "Stage conversion: of the deals that left a stage, the share that moved on rather than being "
    "lost there. A deal that skipped a stage counts as having passed it; a deal that went back "
    "to an earlier stage counts once.": (
        "Conversione di fase: tra le trattative uscite da una fase, la quota che è andata avanti "
        "invece di essere persa lì. Una trattativa che ha saltato una fase conta come se "
        "l'avesse superata; una che è tornata a una fase precedente conta una volta sola."
    ),
    "Sales cycle: days from a deal's creation to its close. Deals whose close date is before "
    "their creation date are left out and listed under data quality.": (
        "Ciclo di vendita: giorni dalla creazione di una trattativa alla sua chiusura. Le "
        "trattative con data di chiusura precedente alla creazione sono escluse ed elencate "
        "nella qualità dei dati."
    ),
    "Sales velocity: open deals × win rate × average won deal ÷ mean cycle days, the bookings "
    "per day the pipeline produces at its current pace.": (
        "Velocità di vendita: trattative aperte × tasso di successo × valore medio delle vinte ÷ "
        "giorni medi del ciclo, cioè gli ordini al giorno che la pipeline produce al ritmo "
        "attuale."
    ),
    "P10, P50, P90: in the simulated futures, bookings fall below P10 one time in ten, below "
    "P50 half the time and below P90 nine times in ten; eight times in ten they land between "
    "P10 and P90.": (
        "P10, P50, P90: negli scenari simulati gli ordini restano sotto il P10 una volta su "
        "dieci, sotto il P50 metà delle volte e sotto il P90 nove volte su dieci; otto volte su "
        "dieci cadono tra il P10 e il P90."
    ),
    "How the forecast works": "Come funziona la previsione",
    "No forecast has been run on this warehouse yet.": (
        "Su questo warehouse non è ancora stata fatta nessuna previsione."
    ),
    "This run uses the stage-weighted method: each open deal counts for its amount times the "
    "historical win rate of its current stage, spread over the coming months by how long won "
    "deals of that stage took to close, given how long the deal has already been in it. It "
    "gives expected values, without bands.": (
        "Questa previsione usa il metodo ponderato per fase: ogni trattativa aperta conta per il "
        "suo importo moltiplicato per il tasso di successo storico della sua fase, distribuito "
        "sui mesi successivi secondo il tempo che le trattative vinte di quella fase hanno "
        "impiegato a chiudersi, tenuto conto di quanto la trattativa è già rimasta nella fase. "
        "Dà valori attesi, senza bande."
    ),
    "Bookings already closed in the current month are facts, not forecasts. Each open deal's "
    "chance of being won, and when, comes from the best-supported of four models: what became of "
    "past deals that sat in the same stage at a similar age, where the export has stage history; "
    "else what became of past deals of the same age since creation (won, lost or still open); "
    "else the CRM's or the configured probability, timed by the usual sales cycle; else the "
    "overall historical win rate. A deal far past the usual time gets a lower, later chance, and "
    "a deal that is lost cannot be won later. An open deal without an amount is given the median "
    "won amount of similar deals. The forecast section counts the deals each model covered.": (
        "Gli ordini già chiusi nel mese in corso sono fatti, non previsioni. La probabilità di "
        "ogni trattativa aperta di essere vinta, e quando, viene dal più solido di quattro "
        "modelli: come sono finite le trattative passate rimaste nella stessa fase per un tempo "
        "simile, dove l'esportazione ha lo storico delle fasi; altrimenti come sono finite le "
        "trattative passate della stessa età dalla creazione (vinte, perse o ancora aperte); "
        "altrimenti la probabilità del CRM o della configurazione, con i tempi del ciclo di "
        "vendita abituale; altrimenti il tasso di successo storico complessivo. Una trattativa "
        "ben oltre i tempi abituali riceve una probabilità più bassa e più tardiva, e una "
        "trattativa persa non può più essere vinta. Una trattativa aperta senza importo riceve "
        "l'importo vinto mediano di trattative simili. La sezione della previsione conta le "
        "trattative coperte da ciascun modello."
    ),
    "This export has no stage history, so no open deal could be forecast from its stage's "
    "record: the current stage acts only through the probabilities (the CRM's, or those in the "
    "config). Loading the stage history, or running weekly so that it builds up, lets the stage "
    "count.": (
        "Questa esportazione non ha lo storico delle fasi, quindi nessuna trattativa aperta è "
        "stata prevista dai dati della sua fase: la fase attuale conta solo attraverso le "
        "probabilità (quelle del CRM o della configurazione). Caricare lo storico delle fasi, o "
        "eseguire ogni settimana perché si accumuli, permette alla fase di contare."
    ),
    "Deals not created yet are forecast from the trend of new pipeline per month, then turned "
    "into bookings with the historical share of new pipeline that is won and the usual delay "
    "from creation to win.": (
        "Le trattative non ancora create sono previste dall'andamento mensile della nuova "
        "pipeline, poi trasformate in ordini con la quota storica di nuova pipeline vinta e il "
        "ritardo abituale tra creazione e vincita."
    ),
    "The run simulates {simulations} possible futures of all deals together (method {method}); "
    "the bands are percentiles of those simulated totals, for each month and for the quarter. "
    "Cash follows from the simulated won deals through the billing and payment terms in the "
    "config.": (
        "La previsione simula {simulations} scenari possibili di tutte le trattative insieme "
        "(metodo {method}); le bande sono percentili di quei totali simulati, per ogni mese e "
        "per il trimestre. Gli incassi derivano dalle trattative vinte simulate, secondo le "
        "condizioni di fatturazione e pagamento della configurazione."
    ),
    "The headline is the method that has earned it: the backtest forecasts past month-ends with "
    "the engine and with simple methods, and the headline is the engine when it had the lowest "
    "error at every horizon, else the best method, or the median of the engine and the two best "
    "simple methods when that did better. Its P10–P90 band is then widened or narrowed so that it "
    "would have held about 8 in 10 of the actual outcomes.": (
        "La previsione principale è quella del metodo che se l'è guadagnata: la verifica "
        "retrospettiva prevede dai fine mese passati con il motore e con metodi semplici, e la "
        "previsione principale è il motore quando ha avuto l'errore più basso a ogni orizzonte, "
        "altrimenti il metodo migliore, o la mediana del motore e dei due metodi semplici "
        "migliori quando ha fatto meglio. La sua banda P10–P90 viene poi allargata o ristretta "
        "in modo da contenere circa 8 risultati effettivi su 10."
    ),
    "Where the numbers come from": "Da dove vengono i numeri",
    "Every number is computed in the warehouse (a DuckDB file) from the CRM export by SQL models "
    "that analysts can query directly; this page only formats them. Nothing is typed in by "
    "hand.": (
        "Ogni numero è calcolato nel warehouse (un file DuckDB) a partire dall'esportazione del "
        "CRM, con modelli SQL che gli analisti possono interrogare direttamente; questa pagina "
        "si limita a impaginarli. Nulla è inserito a mano."
    ),
    # --- Plotly's own messages ---
    "Download plot as a PNG": "Scarica il grafico come PNG",
    "Download plot": "Scarica il grafico",
    "Taking snapshot - this may take a few seconds": (
        "Creazione dell'immagine, può richiedere qualche secondo"
    ),
    "Snapshot succeeded": "Immagine creata",
    "Sorry, there was a problem downloading your snapshot!": (
        "Spiacenti, non è stato possibile scaricare l'immagine."
    ),
    "Double-click to zoom back out": "Doppio clic per tornare alla vista intera",
    # --- what the data cannot measure ---
    "not measurable": "non misurabile",
    "open deals without amount": "trattative aperte senza importo",
    "Stage conversion is not measurable: none of the {lost} lost deals has a known last stage, so "
    "every step would read 100%. It needs stage history: export OpportunityHistory, or run weekly "
    "so history builds up.": (
        "La conversione per fase non è misurabile: nessuna delle {lost} trattative perse ha "
        "un'ultima fase nota, quindi ogni passaggio risulterebbe al 100%. Serve lo storico delle "
        "fasi: esportate OpportunityHistory, oppure eseguite ogni settimana così che lo storico "
        "si accumuli."
    ),
    "Stage conversion is not measurable: the export has no closed-lost deals, so every step would "
    "read 100%. The export may leave them out (a report filter?); export the lost deals too.": (
        "La conversione per fase non è misurabile: l'esportazione non contiene trattative perse, "
        "quindi ogni passaggio risulterebbe al 100%. L'esportazione potrebbe escluderle (un filtro "
        "del report?); esportate anche le trattative perse."
    ),
    "{unknown} of {lost} lost deals have no known last stage and are left out of the conversion; "
    "stage history would place them.": (
        "{unknown} trattative perse su {lost} non hanno un'ultima fase nota e sono escluse dalla "
        "conversione; lo storico delle fasi le collocherebbe."
    ),
    "Time in stage is not measurable yet: no deal has left an open stage since its stage history "
    "began. Run weekly so history builds up.": (
        "Il tempo nelle fasi non è ancora misurabile: nessuna trattativa ha lasciato una fase "
        "aperta da quando ne esiste lo storico. Eseguite ogni settimana così che lo storico si "
        "accumuli."
    ),
    "Time in stage is not measurable: it needs stage history. Export OpportunityHistory, or run "
    "weekly so history builds up.": (
        "Il tempo nelle fasi non è misurabile: serve lo storico delle fasi. Esportate "
        "OpportunityHistory, oppure eseguite ogni settimana così che lo storico si accumuli."
    ),
    "Time in stage and stuck deals are not measurable yet: no deal has left an open stage since "
    "its stage history began. Run weekly so history builds up.": (
        "Il tempo nelle fasi e le trattative ferme non sono ancora misurabili: nessuna "
        "trattativa ha lasciato una fase aperta da quando ne esiste lo storico. Eseguite ogni "
        "settimana così che lo storico si accumuli."
    ),
    "Time in stage and stuck deals are not measurable: they need stage history. Export "
    "OpportunityHistory, or run weekly so history builds up.": (
        "Il tempo nelle fasi e le trattative ferme non sono misurabili: serve lo storico delle "
        "fasi. Esportate OpportunityHistory, oppure eseguite ogni settimana così che lo storico "
        "si accumuli."
    ),
    "Stage throughput is not measurable: it needs stage history (without it every deal seems to "
    "enter its stage and never leave). Export OpportunityHistory, or run weekly so history builds "
    "up.": (
        "Il flusso per fase non è misurabile: serve lo storico delle fasi (senza, ogni trattativa "
        "sembra entrare nella sua fase e non uscirne mai). Esportate OpportunityHistory, oppure "
        "eseguite ogni settimana così che lo storico si accumuli."
    ),
    "Conversion and the ranking are not measurable: no lost deal has a known last stage (see the "
    "funnel).": (
        "La conversione e la classifica non sono misurabili: nessuna trattativa persa ha "
        "un'ultima fase nota (vedete l'imbuto di vendita)."
    ),
    "No closed-lost deals in the export: it may leave them out (a report filter?); the win rate "
    "may be overstated.": (
        "Nessuna trattativa persa nell'esportazione: potrebbe escluderle (un filtro del report?); "
        "il tasso di successo potrebbe essere sovrastimato."
    ),
    "{missing} of {open} open deals have no amount: the open pipeline leaves them out, while "
    "sales velocity counts each at the average won deal.": (
        "{missing} trattative aperte su {open} non hanno importo: la pipeline aperta le esclude, "
        "mentre la velocità di vendita conta ciascuna al valore medio delle vinte."
    ),
    "Owner is not in the export: no deal has one, so there is nothing to show per rep. Map the "
    "owner column in [sources.columns] to see it.": (
        "Il commerciale non è nell'esportazione: nessuna trattativa ne ha uno, quindi non c'è "
        "nulla da mostrare per commerciale. Mappate la colonna owner in [sources.columns] per "
        "vederlo."
    ),
    "Lead source is not in the export: no deal has one, so there is nothing to show per source. "
    "Map the lead_source column in [sources.columns] to see it.": (
        "Il canale non è nell'esportazione: nessuna trattativa ne ha uno, quindi non c'è nulla "
        "da mostrare per canale. Mappate la colonna lead_source in [sources.columns] per "
        "vederlo."
    ),
    "Days from creation to close of the deals closed in the {days} days to {date}. Median of the "
    "{won} won deals: {won_median}; no deal was lost.": (
        "Giorni dalla creazione alla chiusura delle trattative chiuse nei {days} giorni fino al "
        "{date}. Mediana delle {won} trattative vinte: {won_median}; nessuna trattativa persa."
    ),
    "Days from creation to close of the deals closed in the {days} days to {date}. Median of the "
    "{lost} lost deals: {lost_median}; no deal was won.": (
        "Giorni dalla creazione alla chiusura delle trattative chiuse nei {days} giorni fino al "
        "{date}. Mediana delle {lost} trattative perse: {lost_median}; nessuna trattativa vinta."
    ),
    # --- what missing dates leave out ---
    "None of the {closed} closed deals has a close date, so no figure over time is measurable: "
    "the win rate, average won deal, sales cycle and velocity above, the results per owner and per "
    "lead source, the bookings, the forecast and its backtest all need close dates. Map the "
    "close-date column ([sources.columns] closed_at) to see them.": (
        "Nessuna delle {closed} trattative chiuse ha una data di chiusura, quindi nessun dato nel "
        "tempo è misurabile: il tasso di successo, il valore medio delle vinte, il ciclo di "
        "vendita e la velocità qui sopra, i risultati per commerciale e per canale, gli ordini, la "
        "previsione e il suo backtest richiedono tutti le date di chiusura. Mappate la colonna "
        "della data di chiusura ([sources.columns] closed_at) per vederli."
    ),
    "No deal has a creation date, so the sales cycle, the sales velocity and the deals and "
    "pipeline created per period are not measurable, and the forecast cannot use deal ages. Map "
    "the created-date column ([sources.columns] created_at) to see them.": (
        "Nessuna trattativa ha una data di creazione, quindi il ciclo di vendita, la velocità di "
        "vendita e le trattative e la pipeline create per periodo non sono misurabili, e la "
        "previsione non può usare l'età delle trattative. Mappate la colonna della data di "
        "creazione ([sources.columns] created_at) per vederli."
    ),
    "{missing} of {deals} deals have no creation date: the sales cycle, the deals and pipeline "
    "created per period and the forecast's deal-age model leave them out; win rates, the open "
    "pipeline, bookings and stage conversion count them (see Data quality).": (
        "{missing} trattative su {deals} non hanno una data di creazione: il ciclo di vendita, le "
        "trattative e la pipeline create per periodo e il modello della previsione per età della "
        "trattativa le escludono; i tassi di successo, la pipeline aperta, gli ordini e la "
        "conversione per fase le contano (vedi Qualità dei dati)."
    ),
    "Over all {closed} closed deals in the export, whenever they closed: {won} won and {lost} "
    "lost, a win rate of {rate} by number of deals and {rate_amount} by amount; the average won "
    "deal is {average}. No window and no trend: the export does not say when they closed.": (
        "Su tutte le {closed} trattative chiuse dell'esportazione, in qualunque momento siano "
        "state chiuse: {won} vinte e {lost} perse, un tasso di successo del {rate} per numero di "
        "trattative e del {rate_amount} per importo; il valore medio delle vinte è {average}. "
        "Nessuna finestra e nessuna tendenza: l'esportazione non dice quando sono state chiuse."
    ),
    "The won, lost and win-rate columns above count the deals closed in the trailing window, and "
    "no closed deal has a close date. Over all closed deals, whenever they closed:": (
        "Le colonne vinte, perse e tasso di successo qui sopra contano le trattative chiuse nella "
        "finestra mobile, e nessuna trattativa chiusa ha una data di chiusura. Su tutte le "
        "trattative chiuse, in qualunque momento:"
    ),
    "Win rate by amount": "Tasso di successo per importo",
    "No deal has a creation date, so a deal counts as created when an export first showed it (or "
    "its stage history began): the first export's whole pipeline reads as created.": (
        "Nessuna trattativa ha una data di creazione, quindi una trattativa conta come creata "
        "quando un'esportazione l'ha mostrata per la prima volta (o quando è iniziato il suo "
        "storico delle fasi): l'intera pipeline della prima esportazione risulta creata."
    ),
    "{missing} of {deals} deals have no creation date: each counts as created when an export "
    "first showed it (or its stage history began).": (
        "{missing} trattative su {deals} non hanno una data di creazione: ciascuna conta come "
        "creata quando un'esportazione l'ha mostrata per la prima volta (o quando è iniziato il "
        "suo storico delle fasi)."
    ),
    "Time to close is not measurable: no closed deal has a close date. Map the close-date column "
    "([sources.columns] closed_at).": (
        "Il tempo di chiusura non è misurabile: nessuna trattativa chiusa ha una data di "
        "chiusura. Mappate la colonna della data di chiusura ([sources.columns] closed_at)."
    ),
    "Time to close is not measurable: no deal has a creation date. Map the created-date column "
    "([sources.columns] created_at).": (
        "Il tempo di chiusura non è misurabile: nessuna trattativa ha una data di creazione. "
        "Mappate la colonna della data di creazione ([sources.columns] created_at)."
    ),
    "{missing} of the {closed} closed deals have no creation date and are left out of the time "
    "to close.": (
        "{missing} delle {closed} trattative chiuse non hanno una data di creazione e sono escluse "
        "dal tempo di chiusura."
    ),
}


@dataclass(frozen=True)
class Translator:
    language: str = "en"
    table: dict[str, str] = field(default_factory=dict, repr=False)

    def __call__(self, message: str, /, **values: object) -> str:
        text = message
        if self.language != "en":
            translated = self.table.get(message)
            if translated is None:
                log.warning(
                    "report: no %s translation for %r; shown in English", self.language, message
                )
            else:
                text = translated
        return text.format(**values) if values else text


def translator(language: str) -> Translator:
    if language not in LANGUAGES:
        raise ValueError(f"report language {language!r} is not one of {list(LANGUAGES)}")
    return Translator(language, ITALIAN if language == "it" else {})


# mart_data_quality explains each check in English; the Italian report uses these, by check_name.
CHECK_EXPLANATIONS_IT: dict[str, str] = {
    "closed_without_close_date": (
        "Trattative vinte o perse senza data di chiusura: contano nella conversione per fase ma "
        "in nessuna finestra temporale (tasso di successo, ordini, ciclo). Mappate la colonna "
        "della data di chiusura o compilatela."
    ),
    "close_before_create": (
        "Trattative chiuse prima di essere create: escluse dalle statistiche sul ciclo. Di "
        "solito è un record migrato o una data di creazione sbagliata; correggete la data nel CRM."
    ),
    "amount_without_fx_rate": (
        "Trattative con un importo in una valuta senza cambio in [pipeline] rates: il loro "
        "importo resta fuori da ogni totale *_base. Aggiungete il cambio alla configurazione."
    ),
    "stage_not_in_config": (
        "Trattative la cui fase attuale o registrata non è né una fase aperta configurata né una "
        "fase vinta/persa: escono dall'imbuto. Aggiungete la fase a [pipeline] stages o il suo "
        "valore a [sources.status]."
    ),
    "event_in_future": (
        "Trattative il cui export riporta un evento (creazione, chiusura, cambio di fase) dopo il "
        "caricamento del file: un errore di battitura o un segnaposto. La trattativa è stata "
        "caricata senza quella data. Correggete la data nel CRM; flagged_values indica riga, "
        "colonna e valore."
    ),
    "missing_amount_open": (
        "Trattative aperte senza importo: contano come aperte ma non aggiungono nulla alla "
        "pipeline aperta, alla velocità di vendita o alla previsione. Inserite l'importo nel CRM."
    ),
    "stale_expected_close": (
        "Trattative aperte con la data di chiusura attesa già passata: per il CRM avrebbero già "
        "dovuto chiudersi. Aggiornate la data o chiudete la trattativa."
    ),
    "missing_owner": (
        "Trattative senza commerciale: compaiono come «nessun commerciale» nei risultati per "
        "commerciale e non contano nel carico di nessuno. Mappate la colonna del commerciale o "
        "assegnatele."
    ),
    "duplicate_ids_in_file": (
        "Id di trattativa ripetuti nello stesso file esportato: è stata tenuta l'ultima riga di "
        "ciascuno, le precedenti sono in rejected_rows. Controllate righe duplicate "
        "nell'esportazione."
    ),
    "activities_without_deal": (
        "Attività il cui id di trattativa non corrisponde a nessuna trattativa della loro fonte: "
        "non contano in nessun contatto. Controllate la mappatura di deal_id nel file delle "
        "attività."
    ),
    "lost_stage_unknown": (
        "Trattative perse senza una fase aperta nota (senza storico, esportate solo come perse): "
        "contano nel tasso di successo ma non nella conversione per fase. Caricate lo storico "
        "delle fasi per collocarle."
    ),
    "stage_regressions": (
        "Trattative tornate almeno una volta a una fase precedente. Normale se con moderazione; "
        "nella conversione una trattativa conta comunque una volta per fase."
    ),
    "missing_created_at": (
        "Trattative senza data di creazione: contano nei tassi di successo, nella pipeline "
        "aperta, negli ordini e nella conversione per fase, ma non nel ciclo di vendita, nelle "
        "trattative e nella pipeline create per periodo né nel modello della previsione per età. "
        "Mappate la colonna della data di creazione o compilatela nel CRM."
    ),
}


def check_explanation(t: Translator, check_name: str, explanation: str | None) -> str:
    """A data quality check in the report's language (the mart's own words in English)."""
    if t.language == "en":
        return explanation or check_name
    translated = CHECK_EXPLANATIONS_IT.get(check_name)
    if translated is None:
        log.warning("report: no %s explanation for data quality check %r", t.language, check_name)
        return explanation or check_name
    return translated
