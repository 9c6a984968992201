/**
 * Every word the waiting-room page shows or announces, one object per language, and the choice of
 * language from the browser's preferences (`navigator.languages`). Numbers and durations go
 * through `Intl` in the visitor's locale.
 *
 * To add a language: copy `en` below, translate every entry (the compiler and a unit test refuse
 * one with a key missing), and add it to `MESSAGES`. Nothing else changes.
 */

/** Where an admitted visitor goes: the main site's host, or null when the page does not know it. */
type Host = string | null;

export interface Messages {
  /** The heading when the organiser gave no event name. */
  defaultRoomName: string;
  /** The small label above the heading. */
  eyebrow: string;
  /** Document titles. */
  titleTurn: (name: string) => string;
  titlePosition: (position: string, name: string) => string;
  /** The connection pill. */
  connectionLabel: string;
  connecting: string;
  live: string;
  reconnecting: string;
  offline: string;
  elsewhere: string;
  /** Said by screen readers (a polite live region). */
  announceAdmitted: (host: Host) => string;
  announceOpen: (host: Host) => string;
  announceNext: string;
  announcePosition: (position: string) => string;
  /** Leaving for the main site. */
  turnTitle: string;
  openTitle: string;
  takingYouTo: (host: Host) => string;
  continueTo: (host: Host) => string;
  /** Before the first position. */
  waitingForConnection: string;
  findingPlace: string;
  /** "You are number / 12 / in line", shown on three lines. */
  positionLead: string;
  positionTail: string;
  next: string;
  aheadOfYou: string;
  waitingInTotal: string;
  estimatedWait: string;
  /** The estimated wait. */
  etaPaused: string;
  etaUnderAMinute: string;
  etaOverADay: string;
  etaAbout: (duration: string) => string;
  hoursAndMinutes: (hours: string, minutes: string) => string;
  /** Notices. */
  placeDeferred: string;
  /** The site's sign-in link was refused (`invalid_identity`); `host` is the main site. */
  identityRefused: (host: string | null) => string;
  reconnectingNotice: string;
  offlineNotice: string;
  elsewhereNotice: string;
  continueHere: string;
  keepTabOpen: string;
  letInInOrder: string;
  pausedNote: string;
  /** Footer: "Waiting room for" + the host. */
  waitingRoomFor: string;
  reloadSafe: string;
  /** The progress bar. */
  progressLabel: string;
  progressJustJoined: string;
  progressMovedUp: (count: number, places: string) => string;
  joinedAt: (position: string) => string;
  frontOfLine: string;
  /** The pre-queue before a scheduled opening. */
  titlePrequeue: (name: string) => string;
  opensIn: string;
  /** The countdown, for screen readers: `duration` is "2 hours, 5 minutes and 3 seconds". */
  countdownText: (duration: string) => string;
  /** The opening time in the visitor's time zone: "Saturday 14 March, 10:00 CET". */
  opensOn: (when: string) => string;
  inPrequeue: string;
  prequeueCalm: string;
  prequeueExplain: string;
  openingNowTitle: string;
  openingNowText: string;
  announcePrequeue: string;
  announceOpeningNow: string;
  /** How the draw is fair (a disclosure). */
  fairDrawSummary: string;
  fairDrawBefore: string;
  fairDrawAfter: string;
  drawnSummary: string;
  drawnText: string;
  drawCheck: string;
  /** The page's own check of the seed against the fingerprint (`draw-check.ts`). */
  drawChecked: string;
  drawCheckedUnseen: string;
  drawMismatch: string;
  drawUncheckable: string;
  commitmentLabel: string;
  seedLabel: string;
  letInInDrawOrder: string;
  /** The browser check (proof of work) before a place. */
  checkingTitle: string;
  checkingText: string;
  checkingProgressLabel: string;
  proofFailed: string;
  tryAgain: string;
  /** The operator's notice, as the banner's label. */
  noticeLabel: string;
  /** A closed sale. */
  titleClosed: (name: string) => string;
  closedTitle: string;
  closedText: string;
}

const en: Messages = {
  defaultRoomName: 'Waiting room',
  eyebrow: 'Waiting room',
  titleTurn: (name) => `It's your turn · ${name}`,
  titlePosition: (position, name) => `#${position} in line · ${name}`,
  connectionLabel: 'Connection:',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  elsewhere: 'Open in another tab',
  announceAdmitted: (host) => `It's your turn. Taking you to ${host ?? 'the site'} now.`,
  announceOpen: (host) => `You can go in now. Taking you to ${host ?? 'the site'}.`,
  announceNext: 'You are number 1 in line. You are next.',
  announcePosition: (position) => `You are number ${position} in line.`,
  turnTitle: "It's your turn",
  openTitle: 'You can go in now',
  takingYouTo: (host) => `Taking you to ${host ?? 'the site'}…`,
  continueTo: (host) => `Continue to ${host ?? 'the site'}`,
  waitingForConnection: 'Waiting for a connection…',
  findingPlace: 'Finding your place in line…',
  positionLead: 'You are number',
  positionTail: 'in line',
  next: "You're next. Get ready!",
  aheadOfYou: 'Ahead of you',
  waitingInTotal: 'Waiting in total',
  estimatedWait: 'Estimated wait',
  etaPaused: 'paused by the organiser',
  etaUnderAMinute: 'less than a minute',
  etaOverADay: 'more than a day',
  etaAbout: (duration) => `about ${duration}`,
  hoursAndMinutes: (hours, minutes) => `${hours} ${minutes}`,
  placeDeferred:
    "Many people on your network are already in line, so the room can't give you a place just yet. This page keeps trying by itself.",
  identityRefused: (host) =>
    `This waiting room takes you in from ${host ?? 'the site'}'s own link, once you are signed in there. Go back to ${host ?? 'the site'} and follow its link again.`,
  reconnectingNotice:
    'The connection dropped for a moment. Reconnecting automatically; your place is held.',
  offlineNotice:
    "You're offline. We'll reconnect automatically as soon as your connection is back.",
  elsewhereNotice:
    'Your place continues in another tab or window, where it keeps moving up. This page no longer follows it.',
  continueHere: 'Continue here instead',
  keepTabOpen: 'Keep this tab open.',
  letInInOrder: "You'll be let in automatically in the order you arrived.",
  pausedNote: 'Entry is paused for the moment; you keep your place.',
  waitingRoomFor: 'Waiting room for',
  reloadSafe: 'Your place is saved in this browser, so reloading this page is safe.',
  progressLabel: 'Progress to the front of the line',
  progressJustJoined: 'You have just joined the line',
  progressMovedUp: (count, places) =>
    `You have moved up ${places} ${count === 1 ? 'place' : 'places'} since you joined`,
  joinedAt: (position) => `Joined at ${position}`,
  frontOfLine: 'Front of the line',
  titlePrequeue: (name) => `Opening soon · ${name}`,
  opensIn: 'The line opens in',
  countdownText: (duration) => `The line opens in ${duration}.`,
  opensOn: (when) => `Opening ${when}`,
  inPrequeue: 'In the pre-queue',
  prequeueCalm: 'No need to hurry.',
  prequeueExplain:
    'Everyone who arrives before the opening gets a random place in line when it opens, so arriving earlier or reloading gives no advantage. Keep this tab open and you will see your place here.',
  openingNowTitle: 'The line is opening now',
  openingNowText: 'Places are being drawn. Yours will appear here in a moment.',
  announcePrequeue:
    "You're in the pre-queue. Places in line are drawn at random when the line opens.",
  announceOpeningNow: 'The line is opening now. Places are being drawn.',
  fairDrawSummary: 'How the draw is fair',
  fairDrawBefore:
    'Before the opening the room publishes the fingerprint (SHA-256 hash) of a secret seed. The places are drawn from that seed.',
  fairDrawAfter:
    'Once drawn, the seed itself is published, so anyone can check that it matches this fingerprint and that the order comes from it.',
  drawnSummary: 'How your place was drawn',
  drawnText:
    'Your place was drawn at random among everyone in the pre-queue, from the seed below. Its fingerprint was published before the opening, so the seed was fixed in advance.',
  drawCheck: "The room's README shows how to check the order.",
  drawChecked:
    'Checked by your browser: the seed matches the fingerprint published before the opening.',
  drawCheckedUnseen:
    'Checked by your browser: the seed matches this fingerprint. This page did not see the fingerprint before the opening; compare it with the one the organiser published.',
  drawMismatch:
    'Warning: the seed does not match the fingerprint published before the opening. This draw cannot be confirmed as fair; please tell the organiser.',
  drawUncheckable: 'Your browser could not check the seed here.',
  commitmentLabel: 'Fingerprint (SHA-256)',
  seedLabel: 'Seed',
  letInInDrawOrder: "You'll be let in automatically in the order of the draw.",
  checkingTitle: 'Checking your browser',
  checkingText:
    'A short automatic check before you get a place in line. It takes a few seconds, and there is nothing to click.',
  checkingProgressLabel: 'Browser check',
  proofFailed: "We couldn't finish checking your browser. Please try again.",
  tryAgain: 'Try again',
  noticeLabel: 'Message from the organiser',
  titleClosed: (name) => `Sale ended · ${name}`,
  closedTitle: 'The sale has ended',
  closedText: 'Thank you for your patience.',
};

// Formal address ("Sie"), as German ticket and shop sites use.
const de: Messages = {
  defaultRoomName: 'Warteraum',
  eyebrow: 'Warteraum',
  titleTurn: (name) => `Sie sind an der Reihe · ${name}`,
  titlePosition: (position, name) => `Platz ${position} in der Warteschlange · ${name}`,
  connectionLabel: 'Verbindung:',
  connecting: 'Verbindung wird hergestellt…',
  live: 'Verbunden',
  reconnecting: 'Verbindung wird wiederhergestellt…',
  offline: 'Offline',
  elsewhere: 'In anderem Tab geöffnet',
  announceAdmitted: (host) =>
    `Sie sind an der Reihe. Sie werden jetzt ${host ? `zu ${host}` : 'zur Website'} weitergeleitet.`,
  announceOpen: (host) =>
    `Der Zugang ist frei. Sie werden ${host ? `zu ${host}` : 'zur Website'} weitergeleitet.`,
  announceNext: 'Sie sind Nummer 1 in der Warteschlange. Sie sind als Nächstes dran.',
  announcePosition: (position) => `Sie sind Nummer ${position} in der Warteschlange.`,
  turnTitle: 'Sie sind an der Reihe',
  openTitle: 'Der Zugang ist frei',
  takingYouTo: (host) => `Weiterleitung ${host ? `zu ${host}` : 'zur Website'}…`,
  continueTo: (host) => `Weiter ${host ? `zu ${host}` : 'zur Website'}`,
  waitingForConnection: 'Warten auf eine Verbindung…',
  findingPlace: 'Ihr Platz in der Warteschlange wird ermittelt…',
  positionLead: 'Sie sind Nummer',
  positionTail: 'in der Warteschlange',
  next: 'Sie sind als Nächstes dran. Halten Sie sich bereit!',
  aheadOfYou: 'Vor Ihnen',
  waitingInTotal: 'Wartende insgesamt',
  estimatedWait: 'Geschätzte Wartezeit',
  etaPaused: 'vom Veranstalter angehalten',
  etaUnderAMinute: 'weniger als eine Minute',
  etaOverADay: 'mehr als ein Tag',
  etaAbout: (duration) => `etwa ${duration}`,
  hoursAndMinutes: (hours, minutes) => `${hours} ${minutes}`,
  placeDeferred:
    'Aus Ihrem Netzwerk warten bereits sehr viele Personen, deshalb kann Ihnen der Warteraum gerade noch keinen Platz geben. Diese Seite versucht es automatisch weiter.',
  identityRefused: (host) =>
    `Dieser Warteraum nimmt Sie über den Link ${host ? `von ${host}` : 'der Website'} auf, nachdem Sie sich dort angemeldet haben. Gehen Sie zurück ${host ? `zu ${host}` : 'zur Website'} und folgen Sie dem Link erneut.`,
  reconnectingNotice:
    'Die Verbindung war kurz unterbrochen und wird automatisch wiederhergestellt. Ihr Platz bleibt erhalten.',
  offlineNotice:
    'Sie sind offline. Sobald Ihre Verbindung wieder besteht, verbinden wir Sie automatisch neu.',
  elsewhereNotice:
    'Ihr Platz wird in einem anderen Tab oder Fenster fortgeführt und rückt dort weiter vor. Diese Seite verfolgt ihn nicht mehr.',
  continueHere: 'Stattdessen hier fortfahren',
  keepTabOpen: 'Lassen Sie diesen Tab geöffnet.',
  letInInOrder: 'Sie werden automatisch in der Reihenfolge Ihrer Ankunft eingelassen.',
  pausedNote: 'Der Einlass ist gerade angehalten; Ihr Platz bleibt erhalten.',
  waitingRoomFor: 'Warteraum für',
  reloadSafe:
    'Ihr Platz ist in diesem Browser gespeichert. Sie können die Seite also bedenkenlos neu laden.',
  progressLabel: 'Fortschritt bis zur Spitze der Warteschlange',
  progressJustJoined: 'Sie haben sich gerade eingereiht',
  progressMovedUp: (count, places) =>
    `Sie sind seit Ihrer Ankunft ${places} ${count === 1 ? 'Platz' : 'Plätze'} vorgerückt`,
  joinedAt: (position) => `Start: Platz ${position}`,
  frontOfLine: 'Spitze der Warteschlange',
  titlePrequeue: (name) => `Öffnet bald · ${name}`,
  opensIn: 'Die Warteschlange öffnet in',
  countdownText: (duration) => `Die Warteschlange öffnet in ${duration}.`,
  opensOn: (when) => `Öffnung am ${when}`,
  inPrequeue: 'In der Vorab-Warteschlange',
  prequeueCalm: 'Kein Grund zur Eile.',
  prequeueExplain:
    'Alle, die vor der Öffnung da sind, erhalten bei der Öffnung einen zufälligen Platz in der Warteschlange. Früher kommen oder die Seite neu laden bringt also keinen Vorteil. Lassen Sie diesen Tab geöffnet, dann sehen Sie hier Ihren Platz.',
  openingNowTitle: 'Die Warteschlange öffnet jetzt',
  openingNowText: 'Die Plätze werden ausgelost. Ihr Platz erscheint gleich hier.',
  announcePrequeue:
    'Sie sind in der Vorab-Warteschlange. Die Plätze werden bei der Öffnung zufällig ausgelost.',
  announceOpeningNow: 'Die Warteschlange öffnet jetzt. Die Plätze werden ausgelost.',
  fairDrawSummary: 'Warum die Auslosung fair ist',
  fairDrawBefore:
    'Vor der Öffnung veröffentlicht der Warteraum den Fingerabdruck (SHA-256-Hash) eines geheimen Startwerts. Aus diesem Startwert werden die Plätze ausgelost.',
  fairDrawAfter:
    'Nach der Auslosung wird der Startwert selbst veröffentlicht. So kann jeder prüfen, dass er zu diesem Fingerabdruck passt und die Reihenfolge aus ihm folgt.',
  drawnSummary: 'Wie Ihr Platz ausgelost wurde',
  drawnText:
    'Ihr Platz wurde unter allen in der Vorab-Warteschlange zufällig ausgelost, mit dem Startwert unten. Sein Fingerabdruck wurde vor der Öffnung veröffentlicht; der Startwert stand also vorher fest.',
  drawCheck: 'Wie man die Reihenfolge prüft, steht in der README des Warteraums.',
  drawChecked:
    'Von Ihrem Browser geprüft: Der Startwert passt zu dem Fingerabdruck, der vor der Öffnung veröffentlicht wurde.',
  drawCheckedUnseen:
    'Von Ihrem Browser geprüft: Der Startwert passt zu diesem Fingerabdruck. Diese Seite hat den Fingerabdruck vor der Öffnung nicht gesehen; vergleichen Sie ihn mit dem, den der Veranstalter veröffentlicht hat.',
  drawMismatch:
    'Achtung: Der Startwert passt nicht zu dem Fingerabdruck, der vor der Öffnung veröffentlicht wurde. Dass diese Auslosung fair war, lässt sich nicht bestätigen; bitte informieren Sie den Veranstalter.',
  drawUncheckable: 'Ihr Browser konnte den Startwert hier nicht prüfen.',
  commitmentLabel: 'Fingerabdruck (SHA-256)',
  seedLabel: 'Startwert',
  letInInDrawOrder: 'Sie werden automatisch in der ausgelosten Reihenfolge eingelassen.',
  checkingTitle: 'Ihr Browser wird geprüft',
  checkingText:
    'Eine kurze automatische Prüfung, bevor Sie einen Platz in der Warteschlange erhalten. Sie dauert einige Sekunden; Sie müssen nichts anklicken.',
  checkingProgressLabel: 'Browserprüfung',
  proofFailed:
    'Die Prüfung Ihres Browsers konnte nicht abgeschlossen werden. Bitte versuchen Sie es erneut.',
  tryAgain: 'Erneut versuchen',
  noticeLabel: 'Nachricht des Veranstalters',
  titleClosed: (name) => `Verkauf beendet · ${name}`,
  closedTitle: 'Der Verkauf ist beendet',
  closedText: 'Vielen Dank für Ihre Geduld.',
};

// Informal address ("tú"), as Spanish ticket and shop sites mostly use; "fila" for the line
// (understood everywhere; Spain also says "cola": a regional variant would go under es-ES).
const es: Messages = {
  defaultRoomName: 'Sala de espera',
  eyebrow: 'Sala de espera',
  titleTurn: (name) => `Es tu turno · ${name}`,
  titlePosition: (position, name) => `Puesto ${position} en la fila · ${name}`,
  connectionLabel: 'Conexión:',
  connecting: 'Conectando…',
  live: 'Conectado',
  reconnecting: 'Reconectando…',
  offline: 'Sin conexión',
  elsewhere: 'Abierta en otra pestaña',
  announceAdmitted: (host) => `Es tu turno. Te llevamos ${host ? `a ${host}` : 'al sitio'}.`,
  announceOpen: (host) => `Ya puedes entrar. Te llevamos ${host ? `a ${host}` : 'al sitio'}.`,
  announceNext: 'Estás en el puesto 1 de la fila. Ya casi es tu turno.',
  announcePosition: (position) => `Estás en el puesto ${position} de la fila.`,
  turnTitle: 'Es tu turno',
  openTitle: 'Ya puedes entrar',
  takingYouTo: (host) => `Te llevamos ${host ? `a ${host}` : 'al sitio'}…`,
  continueTo: (host) => `Continuar ${host ? `a ${host}` : 'al sitio'}`,
  waitingForConnection: 'Esperando conexión…',
  findingPlace: 'Buscando tu lugar en la fila…',
  positionLead: 'Estás en el puesto',
  positionTail: 'de la fila',
  next: '¡Ya casi es tu turno! Prepárate.',
  aheadOfYou: 'Delante de ti',
  waitingInTotal: 'Total en espera',
  estimatedWait: 'Espera estimada',
  etaPaused: 'en pausa por el organizador',
  etaUnderAMinute: 'menos de un minuto',
  etaOverADay: 'más de un día',
  etaAbout: (duration) => `alrededor de ${duration}`,
  hoursAndMinutes: (hours, minutes) => `${hours} y ${minutes}`,
  placeDeferred:
    'Ya hay muchas personas de tu red en la fila, así que todavía no podemos darte un lugar. Esta página lo seguirá intentando automáticamente.',
  identityRefused: (host) =>
    `Esta sala de espera te recibe desde el enlace de ${host ?? 'la web'}, una vez que hayas iniciado sesión allí. Vuelve a ${host ?? 'la web'} y sigue su enlace de nuevo.`,
  reconnectingNotice:
    'La conexión se ha interrumpido un momento. Nos reconectamos automáticamente y conservas tu lugar.',
  offlineNotice: 'No tienes conexión. Nos reconectaremos automáticamente en cuanto vuelva.',
  elsewhereNotice:
    'Tu lugar continúa en otra pestaña o ventana, donde sigue avanzando. Esta página ya no lo sigue.',
  continueHere: 'Continuar aquí',
  keepTabOpen: 'Mantén esta pestaña abierta.',
  letInInOrder: 'Entrarás automáticamente por orden de llegada.',
  pausedNote: 'La entrada está en pausa por el momento; conservas tu lugar.',
  waitingRoomFor: 'Sala de espera de',
  reloadSafe:
    'Tu lugar se guarda en este navegador, así que puedes recargar la página sin problema.',
  progressLabel: 'Avance hacia el principio de la fila',
  progressJustJoined: 'Acabas de entrar en la fila',
  progressMovedUp: (count, places) =>
    `Has avanzado ${places} ${count === 1 ? 'puesto' : 'puestos'} desde que llegaste`,
  joinedAt: (position) => `Inicio: puesto ${position}`,
  frontOfLine: 'Principio de la fila',
  titlePrequeue: (name) => `Abre pronto · ${name}`,
  opensIn: 'La fila abre en',
  countdownText: (duration) => `La fila abre en ${duration}.`,
  opensOn: (when) => `Apertura: ${when}`,
  inPrequeue: 'En la prefila',
  prequeueCalm: 'No hay prisa.',
  prequeueExplain:
    'Todas las personas que lleguen antes de la apertura reciben un lugar al azar en la fila cuando abra, así que llegar antes o recargar la página no da ninguna ventaja. Mantén esta pestaña abierta y verás tu lugar aquí.',
  openingNowTitle: 'La fila está abriendo',
  openingNowText: 'Se están sorteando los lugares. El tuyo aparecerá aquí en un momento.',
  announcePrequeue: 'Estás en la prefila. Los lugares de la fila se sortean al azar cuando abra.',
  announceOpeningNow: 'La fila está abriendo. Se están sorteando los lugares.',
  fairDrawSummary: 'Por qué el sorteo es justo',
  fairDrawBefore:
    'Antes de la apertura, la sala publica la huella (hash SHA-256) de una semilla secreta. Los lugares se sortean a partir de esa semilla.',
  fairDrawAfter:
    'Después del sorteo se publica la semilla, así que cualquiera puede comprobar que coincide con esta huella y que el orden sale de ella.',
  drawnSummary: 'Cómo se sorteó tu lugar',
  drawnText:
    'Tu lugar se sorteó al azar entre todas las personas de la prefila, con la semilla de abajo. Su huella se publicó antes de la apertura, así que la semilla estaba fijada de antemano.',
  drawCheck: 'El README de la sala explica cómo comprobar el orden.',
  drawChecked:
    'Comprobado por tu navegador: la semilla coincide con la huella publicada antes de la apertura.',
  drawCheckedUnseen:
    'Comprobado por tu navegador: la semilla coincide con esta huella. Esta página no vio la huella antes de la apertura; compárala con la que publicó el organizador.',
  drawMismatch:
    'Atención: la semilla no coincide con la huella publicada antes de la apertura. No se puede confirmar que este sorteo sea justo; avisa al organizador.',
  drawUncheckable: 'Tu navegador no pudo comprobar la semilla aquí.',
  commitmentLabel: 'Huella (SHA-256)',
  seedLabel: 'Semilla',
  letInInDrawOrder: 'Entrarás automáticamente en el orden del sorteo.',
  checkingTitle: 'Comprobando tu navegador',
  checkingText:
    'Una breve comprobación automática antes de darte un lugar en la fila. Tarda unos segundos y no tienes que hacer clic en nada.',
  checkingProgressLabel: 'Comprobación del navegador',
  proofFailed: 'No hemos podido terminar de comprobar tu navegador. Inténtalo de nuevo.',
  tryAgain: 'Intentar de nuevo',
  noticeLabel: 'Mensaje del organizador',
  titleClosed: (name) => `Venta finalizada · ${name}`,
  closedTitle: 'La venta ha terminado',
  closedText: 'Gracias por tu paciencia.',
};

// "vous"; French puts a no-break space before ":", ";", "!" and "?".
const fr: Messages = {
  defaultRoomName: "Salle d'attente",
  eyebrow: "Salle d'attente",
  titleTurn: (name) => `C'est votre tour · ${name}`,
  titlePosition: (position, name) => `N°\u00a0${position} dans la file · ${name}`,
  connectionLabel: 'Connexion\u00a0:',
  connecting: 'Connexion en cours…',
  live: 'Connecté',
  reconnecting: 'Reconnexion…',
  offline: 'Hors ligne',
  elsewhere: 'Ouvert dans un autre onglet',
  announceAdmitted: (host) =>
    `C'est votre tour. Redirection ${host ? `vers ${host}` : 'vers le site'}.`,
  announceOpen: (host) =>
    `Vous pouvez entrer. Redirection ${host ? `vers ${host}` : 'vers le site'}.`,
  announceNext: "Vous êtes numéro 1 dans la file. C'est bientôt à vous.",
  announcePosition: (position) => `Vous êtes numéro ${position} dans la file.`,
  turnTitle: "C'est votre tour",
  openTitle: 'Vous pouvez entrer',
  takingYouTo: (host) => `Redirection ${host ? `vers ${host}` : 'vers le site'}…`,
  continueTo: (host) => `Continuer ${host ? `vers ${host}` : 'vers le site'}`,
  waitingForConnection: 'En attente de connexion…',
  findingPlace: 'Recherche de votre place dans la file…',
  positionLead: 'Vous êtes numéro',
  positionTail: "dans la file d'attente",
  next: 'Vous êtes en tête de file. Préparez-vous\u00a0!',
  aheadOfYou: 'Devant vous',
  waitingInTotal: 'En attente au total',
  estimatedWait: 'Attente estimée',
  etaPaused: "suspendue par l'organisateur",
  etaUnderAMinute: "moins d'une minute",
  etaOverADay: "plus d'un jour",
  etaAbout: (duration) => `environ ${duration}`,
  hoursAndMinutes: (hours, minutes) => `${hours} ${minutes}`,
  placeDeferred:
    'Beaucoup de personnes de votre réseau sont déjà dans la file, nous ne pouvons donc pas encore vous attribuer de place. Cette page réessaie automatiquement.',
  identityRefused: (host) =>
    `Cette salle d'attente vous accueille depuis le lien ${host ? `de ${host}` : 'du site'}, après connexion à votre compte. Retournez sur ${host ?? 'le site'} et suivez à nouveau son lien.`,
  reconnectingNotice:
    'La connexion a été interrompue un instant. Reconnexion automatique en cours\u00a0; votre place est conservée.',
  offlineNotice:
    'Vous êtes hors ligne. Nous nous reconnecterons automatiquement dès le retour de votre connexion.',
  elsewhereNotice:
    "Votre place se poursuit dans un autre onglet ou une autre fenêtre, où elle continue d'avancer. Cette page ne la suit plus.",
  continueHere: 'Continuer ici',
  keepTabOpen: 'Gardez cet onglet ouvert.',
  letInInOrder: "Vous entrerez automatiquement, dans l'ordre d'arrivée.",
  pausedNote: "L'entrée est suspendue pour le moment\u00a0; vous gardez votre place.",
  waitingRoomFor: "Salle d'attente pour",
  reloadSafe:
    'Votre place est enregistrée dans ce navigateur\u00a0: vous pouvez recharger la page sans risque.',
  progressLabel: 'Progression vers la tête de la file',
  progressJustJoined: 'Vous venez de rejoindre la file',
  progressMovedUp: (count, places) =>
    `Vous avez avancé de ${places} ${count === 1 ? 'place' : 'places'} depuis votre arrivée`,
  joinedAt: (position) => `Au départ\u00a0: n°\u00a0${position}`,
  frontOfLine: 'Tête de la file',
  titlePrequeue: (name) => `Ouverture bientôt · ${name}`,
  opensIn: 'La file ouvre dans',
  countdownText: (duration) => `La file ouvre dans ${duration}.`,
  opensOn: (when) => `Ouverture le ${when}`,
  inPrequeue: 'Dans la pré-file',
  prequeueCalm: 'Inutile de vous presser.',
  prequeueExplain:
    "Toutes les personnes arrivées avant l'ouverture reçoivent une place tirée au sort dans la file à l'ouverture\u00a0: arriver plus tôt ou recharger la page ne donne aucun avantage. Gardez cet onglet ouvert, votre place s'affichera ici.",
  openingNowTitle: 'La file ouvre en ce moment',
  openingNowText: "Les places sont en cours de tirage. La vôtre s'affichera ici dans un instant.",
  announcePrequeue:
    "Vous êtes dans la pré-file. Les places dans la file sont tirées au sort à l'ouverture.",
  announceOpeningNow: 'La file ouvre en ce moment. Les places sont en cours de tirage.',
  fairDrawSummary: 'Pourquoi le tirage est équitable',
  fairDrawBefore:
    "Avant l'ouverture, la salle publie l'empreinte (hachage SHA-256) d'une graine secrète. Les places sont tirées à partir de cette graine.",
  fairDrawAfter:
    "Après le tirage, la graine elle-même est publiée\u00a0: chacun peut vérifier qu'elle correspond à cette empreinte et que l'ordre en découle.",
  drawnSummary: 'Comment votre place a été tirée',
  drawnText:
    "Votre place a été tirée au sort parmi toutes les personnes de la pré-file, avec la graine ci-dessous. Son empreinte a été publiée avant l'ouverture\u00a0: la graine était donc fixée à l'avance.",
  drawCheck: "Le README de la salle d'attente explique comment vérifier l'ordre.",
  drawChecked:
    "Vérifié par votre navigateur\u00a0: la graine correspond à l'empreinte publiée avant l'ouverture.",
  drawCheckedUnseen:
    "Vérifié par votre navigateur\u00a0: la graine correspond à cette empreinte. Cette page n'a pas vu l'empreinte avant l'ouverture\u00a0; comparez-la avec celle publiée par l'organisateur.",
  drawMismatch:
    "Attention\u00a0: la graine ne correspond pas à l'empreinte publiée avant l'ouverture. L'équité de ce tirage ne peut pas être confirmée\u00a0; prévenez l'organisateur.",
  drawUncheckable: "Votre navigateur n'a pas pu vérifier la graine ici.",
  commitmentLabel: 'Empreinte (SHA-256)',
  seedLabel: 'Graine',
  letInInDrawOrder: "Vous entrerez automatiquement, dans l'ordre du tirage.",
  checkingTitle: 'Vérification de votre navigateur',
  checkingText:
    "Une courte vérification automatique avant de vous attribuer une place dans la file. Elle prend quelques secondes\u00a0; vous n'avez rien à faire.",
  checkingProgressLabel: 'Vérification du navigateur',
  proofFailed:
    "Nous n'avons pas pu terminer la vérification de votre navigateur. Veuillez réessayer.",
  tryAgain: 'Réessayer',
  noticeLabel: "Message de l'organisateur",
  titleClosed: (name) => `Vente terminée · ${name}`,
  closedTitle: 'La vente est terminée',
  closedText: 'Merci de votre patience.',
};

/** Every language the page speaks; English is the default. */
export const MESSAGES = { en, de, es, fr } as const satisfies Record<string, Messages>;

export type Language = keyof typeof MESSAGES;

export const DEFAULT_LANGUAGE: Language = 'en';

function isLanguage(code: string): code is Language {
  return Object.hasOwn(MESSAGES, code);
}

/** `de-CH` → `de`; `zh-Hant-TW` → `zh`. */
function baseLanguage(tag: string): string {
  return tag.trim().toLowerCase().split(/[-_]/)[0] ?? '';
}

/** The language and the locale the page uses, with its messages and number formats. */
export interface PageTexts {
  language: Language;
  /** The browser's own tag for that language (`de-CH` formats numbers the Swiss way). */
  locale: string;
  t: Messages;
  /** A count in the locale's digits and grouping: `1,234`, `1.234`, `1 234`. */
  number(value: number): string;
  /** A number of whole minutes or hours in words, in the locale: `3 minutes`, `1 Stunde`. */
  duration(value: number, unit: TimeUnit): string;
  /** The unit's word alone, as the locale says it after `value`: `hours`, `Stunde`. */
  unitWord(value: number, unit: TimeUnit): string;
  /** Items as a list in the locale: `a, b and c`, `a, b und c`. */
  list(items: readonly string[]): string;
  /** A moment (epoch ms) in the visitor's time zone, named: `Saturday 14 March, 10:00 CET`. */
  dateTime(epochMs: number): string;
}

export type TimeUnit = 'day' | 'hour' | 'minute' | 'second';

/**
 * The first of the browser's preferred languages (`navigator.languages`, best first) the page
 * speaks, matched on the base language (`de-AT` is German); English when none is.
 */
export function chooseLanguage(preferred: readonly string[]): {
  language: Language;
  locale: string;
} {
  for (const tag of preferred) {
    const base = baseLanguage(tag);
    if (isLanguage(base)) return { language: base, locale: usableLocale(tag, base) };
  }
  return { language: DEFAULT_LANGUAGE, locale: DEFAULT_LANGUAGE };
}

/** `tag` when `Intl` knows it (a garbled tag would throw), else the bare language. */
function usableLocale(tag: string, base: string): string {
  try {
    return Intl.NumberFormat.supportedLocalesOf([tag.trim()])[0] ?? base;
  } catch {
    return base;
  }
}

/** The page's texts for the browser's preferred languages. */
export function pageTexts(preferred: readonly string[]): PageTexts {
  const { language, locale } = chooseLanguage(preferred);
  const numbers = new Intl.NumberFormat(locale);
  const unit = (name: TimeUnit) =>
    new Intl.NumberFormat(locale, { style: 'unit', unit: name, unitDisplay: 'long' });
  const units = {
    day: unit('day'),
    hour: unit('hour'),
    minute: unit('minute'),
    second: unit('second'),
  };
  const lists = new Intl.ListFormat(locale, { style: 'long', type: 'conjunction' });
  const moments = new Intl.DateTimeFormat(locale, {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    hour: 'numeric',
    minute: '2-digit',
    timeZoneName: 'short',
  });
  return {
    language,
    locale,
    t: MESSAGES[language],
    number: (value) => numbers.format(value),
    duration: (value, name) => units[name].format(value),
    unitWord: (value, name) =>
      units[name]
        .formatToParts(value)
        .filter((part) => part.type === 'unit')
        .map((part) => part.value)
        .join(''),
    list: (items) => lists.format(items),
    dateTime: (epochMs) => moments.format(epochMs),
  };
}

/** The browser's preferred languages, best first. */
export function browserLanguages(nav: {
  languages?: readonly string[];
  language?: string;
}): string[] {
  if (nav.languages && nav.languages.length > 0) return [...nav.languages];
  return nav.language ? [nav.language] : [];
}
