"""Words of questions: normalization, stop words, and a small support-domain map of French
synonyms and English → French translations, so "extra agent price" finds "agent supplementaire
coute" and "webhook fails" finds "webhook echoue".

Everything here works on lower-case, unaccented text (``fold``). The map is about the vocabulary
of a helpdesk product, not about one document: plans and prices, channels, tickets, rules,
articles, security, data, API. Each entry gives the words a knowledge base is likely to use
instead; a word that has no entry and that the knowledge base does not know is what makes the
assistant say it has no answer.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower case, no accents, typographic apostrophes and dashes made plain."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("’", "'").replace("‘", "'").replace("–", "-").replace("—", "-")
    return text.lower()


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


STOP_WORDS = frozenset("""
a au aux avec ce ces cet cette ci d de des du elle elles en est et etre eu il ils je j l la le les leur leurs
lui m ma me mes moi mon n ne ni nos notre nous on ou par pas pour qu que quel quelle quelles quels qui quoi s sa
sans se ses si son sont sur t ta te tes toi ton tu un une vos votre vous y c ca cela ceci ici la-bas dont donc
mais car or puis dans sous entre vers chez lors depuis comme ainsi temps
ont ai as avons avez sommes etes suis es sera seront serait etait etaient soit fait font
faire peut peuvent pouvons pouvez puis-je puisse dois doit doivent devons devez faut falloir veux veut voudrais
aimerais souhaite souhaitons comment combien pourquoi quand est-ce quoi lequel laquelle lesquels lesquelles
tout tous toute toutes tres bien alors aussi encore deja exactement vraiment svp merci bonjour salut possible
possibles moyen savoir dire chose choses cas exemple existe il-y-a y-a avoir ete
evenements evenement events event informations information elements element types type sortes sorte raisons
raison facon maniere moyens options option difference differences quoi chose details detail
lumiodesk lumidesk produit outil plateforme service logiciel application app
the a an of to in on for with without by is are was were be been being do does did done can could should would
will shall may might must i we you he she they it its this that these those what which who whom whose how when
where why there their theirs them me us my our ours your yours his her if and or not no yes any all each per
from at as about into than then so also please much many get got have has had want need know tell there's
whats what's hows does doesn't dont don't isn't aren't can't cannot way
""".split())  # noqa: SIM905 - a word list reads better as text

# Question words that only say what kind of answer is wanted (answer-type checks, not search terms).
# What kind of answer the question wants, read on the folded question.
QUANTITY = re.compile(r"\b(combien|nombre|how (many|much)|number of|limite?s?|limits?|maximum|maximale?|max|taille|"
                      r"size|quota|quel(le)? est le (cout|prix|tarif)|what is the (price|cost))\b")
PRICE = re.compile(r"\b(coute|coutent|cout|couts|prix|tarifs?|prices?|pricing|costs?|payer|pay|how much)\b")
DURATION = re.compile(r"\b(combien de temps|how long|duree|delai|quand|when|expire|expiration)\b")

# Phrases rewritten before the words are split (English → French, and French turns of phrase).
PHRASES: list[tuple[str, str]] = [
    (r"\be-?mails?\b", "email"),
    (r"\bmails?\b", "email"),
    (r"\bque se passe-t-il\b", " "),
    (r"\bcombien de temps\b", " "),
    (r"\bhow long\b", " "),
    (r"\bhow (?:many|much)\b", " "),
    (r"\bqu'est-ce qui se passe\b", " "),
    (r"\bwhat happens\b", " "),
    (r"\bwhat is the difference\b", "difference"),
    (r"\bis it possible\b", " "),
    (r"\bcredit cards?\b", "carte bancaire"),
    (r"\bcartes? de credit\b", "carte bancaire"),
    (r"\bcartes? bleues?\b", "carte bancaire"),
    (r"\b(?:two|2)[- ]?factor(?: authentication| auth)?\b", "authentification deux facteurs"),
    (r"\b2fa\b", "authentification deux facteurs 2fa"),
    (r"\bmfa\b", "authentification deux facteurs"),
    (r"\bdouble authentification\b", "authentification deux facteurs"),
    (r"\b(?:extra|additional|more|supplementary) (?:agents?|seats?|users?)\b", "agent supplementaire"),
    (r"\bagents? en plus\b", "agent supplementaire"),
    (r"\bagents? additionnels?\b", "agent supplementaire"),
    (r"\bsieges? supplementaires?\b", "agent supplementaire"),
    (r"\bread[- ]only\b", "lecture seule"),
    (r"\bbusiness hours?\b", "heures ouvrees horaires ouverture"),
    (r"\bworking hours?\b", "heures ouvrees horaires ouverture"),
    (r"\bopening hours?\b", "horaires ouverture"),
    (r"\boffice hours?\b", "horaires ouverture"),
    (r"\bbusiness days?\b", "jours ouvres"),
    (r"\btime ?zones?\b", "fuseau horaire"),
    (r"\bfirst (?:response|reply)\b", "premiere reponse"),
    (r"\bresponse time\b", "premiere reponse delai"),
    (r"\baudit (?:logs?|trail)\b", "journaux audit"),
    (r"\blogs? d'audit\b", "journaux audit"),
    (r"\bfile size\b", "taille fichier"),
    (r"\brate limits?\b", "limite requetes"),
    (r"\brequests? per (?:minute|min)\b", "requetes par minute"),
    (r"\bper second\b", "par seconde"),
    (r"\bfeature requests?\b", "demande fonctionnalite feature-request"),
    (r"\bcustomer replies\b", "client repond"),
    (r"\bcustomer answers\b", "client repond"),
    (r"\bshared views?\b", "vue partagee"),
    (r"\binternal notes?\b", "note interne"),
    (r"\bpublic (?:reply|replies|answer)\b", "reponse publique"),
    (r"\bknowledge base\b", "base connaissance"),
    (r"\bhelp cent(?:er|re)\b", "base connaissance"),
    (r"\bcentre d'aide\b", "base connaissance"),
    (r"\bchat widget\b", "widget chat"),
    (r"\blive chat\b", "chat direct"),
    (r"\bsign[- ]?up\b", "creer organisation signup"),
    (r"\bdaily (?:digest|summary)\b", "resume quotidien"),
    (r"\bdigest\b", "resume quotidien"),
    (r"\bpassword reset\b", "reinitialiser mot de passe"),
    (r"\breset (?:my |the |a )?password\b", "reinitialiser mot de passe"),
    (r"\bforgot (?:my |the )?password\b", "reinitialiser mot de passe oublie"),
    (r"\bmots? de passe oublies?\b", "reinitialiser mot de passe oublie"),
    (r"\bapp(?:lication)? passwords?\b", "mot de passe applicatif"),
    (r"\bpasswords?\b", "mot de passe"),
    (r"\bbank transfer\b", "virement"),
    (r"\bfree (?:plan|tier|version)\b", "plan gratuit"),
    (r"\bfor free\b", "gratuitement"),
    (r"\bfree trial\b", "essai"),
    (r"\bstop after this rule\b", "stopper apres cette regle"),
    (r"\bcontent blockers?\b", "bloqueur contenu"),
    (r"\bad ?blockers?\b", "bloqueur contenu"),
    (r"\bshow up\b", "affiche"),
    (r"\bnot (?:showing|displayed|appearing)\b", "affiche pas"),
    (r"\bdoesn't (?:show|display|appear)\b", "affiche pas"),
    (r"\bdoes not (?:show|display|appear)\b", "affiche pas"),
    (r"\bmid[- ]month\b", "milieu de mois"),
    (r"\bchange (?:of )?plans?\b", "changer forfait"),
    (r"\bswitch plans?\b", "changer forfait"),
    (r"\bupgrade\b", "changer forfait"),
    (r"\bdowngrade\b", "changer forfait"),
    (r"\bcancel(?:l?ation|l?ed|ing)?\b", "resiliation"),
    (r"\bterminat(?:e|ion)\b", "resiliation"),
    (r"\bdelete (?:an |a )?agents?\b", "supprimer agent desactiver"),
    (r"\bremove (?:an |a )?agents?\b", "supprimer agent desactiver"),
    (r"\bpieces? jointes?\b", "pieces jointes"),
    (r"\bbackground\b", "arriere-plan"),
    (r"\bretry(?:ing)?\b", "reessaie"),
    (r"\bretries\b", "reessaie"),
    (r"\bhow often\b", "combien fois"),
    (r"\bhow many times\b", "combien fois"),
    (r"\ba quel moment\b", "quand"),
    (r"\bat what (?:time|point)\b", "when"),
    (r"\bstands? for\b", "signifie"),
    (r"\bacronyme? de\b", "signifie"),
]
_PHRASES = [(re.compile(p), r) for p, r in PHRASES]

# word -> words a knowledge base may use for it (French synonyms, English translations).
SYNONYMS: dict[str, tuple[str, ...]] = {
    # plans, prices, billing
    "forfait": ("plan", "abonnement"), "forfaits": ("plan", "abonnement"), "plan": ("forfait",),
    "plans": ("forfait",), "abonnement": ("forfait",), "offre": ("forfait",), "offres": ("forfait",),
    "formule": ("forfait",), "tier": ("forfait",), "subscription": ("abonnement", "forfait"),
    "prix": ("coute", "cout", "eur"), "tarif": ("coute", "cout", "eur"), "tarifs": ("coute", "cout", "eur"),
    "price": ("coute", "cout", "eur"), "prices": ("coute", "cout", "eur"), "pricing": ("coute", "forfait"),
    "cost": ("coute", "cout"), "costs": ("coute", "cout"), "coute": ("cout", "prix"), "coutent": ("coute", "cout"),
    "cout": ("coute",), "payer": ("coute", "paiement"), "pay": ("coute", "paiement"), "paiement": ("payer",),
    "payment": ("paiement", "payer"), "cher": ("coute", "cout"), "expensive": ("coute", "cout"),
    "cheap": ("coute",), "euros": ("eur",), "euro": ("eur",),
    "mensuel": ("mois",), "monthly": ("mois",), "month": ("mois",), "months": ("mois",),
    "invoice": ("facture",), "invoices": ("facture",), "billing": ("facturation",), "billed": ("facture",),
    "facture": ("facturation",), "factures": ("facture",), "facturee": ("facture",),
    "prorated": ("prorata",), "proration": ("prorata",), "prorata": (), "refund": ("remboursement",),
    "refunds": ("remboursement",), "rembourser": ("remboursement",), "approve": ("valide",),
    "approved": ("valide",), "approuve": ("valide",), "valider": ("valide",), "validate": ("valide",),
    "included": ("inclut", "inclus"), "include": ("inclut", "inclus"), "includes": ("inclut", "inclus"),
    "inclus": ("inclut",), "incluses": ("inclus", "inclut"), "compris": ("inclut", "inclus"),
    "free": ("gratuit", "gratuitement"), "gratuit": ("gratuitement",), "gratuite": ("gratuit",),
    "trial": ("essai",), "essayer": ("essai",), "test": ("essai",), "tester": ("essai",),
    "card": ("carte",), "bank": ("bancaire",), "cb": ("carte", "bancaire"),
    "overage": ("depassement",), "overages": ("depassement",), "exceed": ("depassement", "depasse"),
    "exceeded": ("depassement", "depasse"), "depasser": ("depassement",), "depasse": ("depassement",),
    "quota": ("limite",), "quotas": ("limite",), "limit": ("limite",), "limits": ("limite",),
    "limites": ("limite",), "plafond": ("limite",), "cap": ("limite",), "maximum": ("maximale", "limite"),
    "max": ("maximale", "limite"), "alert": ("alerte",), "alerts": ("alerte",), "warning": ("alerte",),
    "block": ("bloque", "bloquer"), "blocks": ("bloque",), "blocked": ("bloque",), "stop": ("bloque", "arreter"),
    "recommendation": ("recommandation",), "generated": ("generees",), "generee": ("generees",),
    "switch": ("changer", "changement"), "changement": ("changer",), "modifier": ("changer", "modifie"),
    "change": ("changer", "changement", "modifie"),
    # people and roles
    "agents": ("agent",), "seat": ("agent",), "seats": ("agent",), "users": ("agent", "utilisateur"),
    "user": ("agent", "utilisateur"), "utilisateurs": ("agent", "utilisateur"), "staff": ("agent",),
    "collaborateur": ("agent",), "collaborateurs": ("agent",), "operateur": ("agent",), "employe": ("agent",),
    "supplementaire": ("supplementaires",), "supplementaires": ("supplementaire",),
    "roles": ("role",), "role": ("roles",), "permissions": ("acces", "role"), "permission": ("acces", "role"),
    "droits": ("acces", "role"), "rights": ("acces", "role"), "viewer": ("lecteur",), "reader": ("lecteur",),
    "administrator": ("admin",), "administrateur": ("admin",), "owner": ("admin",),
    "customer": ("client",), "customers": ("client",), "clients": ("client",), "client": (),
    "team": ("equipe",), "equipe": (), "invite": ("inviter",), "invitation": ("inviter",),
    "deactivate": ("desactiver",), "disable": ("desactiver", "desactive"), "disabled": ("desactive",),
    "supprimer": ("suppression", "desactiver"), "delete": ("supprimer", "suppression"),
    "deleted": ("supprime", "suppression"), "deletion": ("suppression",), "remove": ("supprimer",),
    "reassign": ("reassigner",), "transfer": ("transferer", "reassigner"), "transferer": ("reassigner",),
    # security
    "security": ("securite",), "secure": ("securite",), "authentication": ("authentification",),
    "login": ("connexion",), "log": ("connexion",), "connecter": ("connexion",), "sso": ("saml",),
    "saml": ("sso",), "audit": ("journaux",), "logs": ("journaux",), "journal": ("journaux",),
    "kept": ("conserves", "conservees"), "keep": ("conserves", "garder"), "retained": ("conserves",),
    "retention": ("conservation", "conserves"), "stored": ("conserves", "stockage"), "garde": ("conserves",),
    "garder": ("conserves",), "gardes": ("conserves",), "conserve": ("conserves", "conservees"),
    "conservees": ("conserves",), "conserves": ("conservees",), "mandatory": ("obligatoire",),
    "required": ("obligatoire",), "enforce": ("obligatoire",), "imposer": ("obligatoire",),
    "compulsory": ("obligatoire",), "oblige": ("obligatoire",), "forcer": ("obligatoire",),
    "reinitialiser": ("reinitialisation",), "reset": ("reinitialiser",), "oublie": ("oublie",),
    # channels
    "widget": ("chat",), "chat": ("widget",), "install": ("installer", "installe"), "installer": ("installe",),
    "installation": ("installe",), "script": (), "snippet": ("script",), "code": ("script",),
    "customize": ("personnaliser", "personnalisation"), "customise": ("personnaliser", "personnalisation"),
    "customization": ("personnalisation",), "personnaliser": ("personnalisation",),
    "branding": ("personnalisation", "logo"), "colors": ("couleurs",), "colours": ("couleurs",),
    "color": ("couleurs",), "couleur": ("couleurs",), "welcome": ("accueil",), "greeting": ("accueil",),
    "available": ("disponible", "consultables"), "availability": ("disponible",), "disponibles": ("disponible",),
    "offline": ("hors", "ligne"), "display": ("affiche",), "shows": ("affiche",), "show": ("affiche",),
    "appear": ("affiche", "apparaissent"), "appears": ("affiche", "apparaissent"), "visible": ("affiche",),
    "afficher": ("affiche",), "apparait": ("affiche",), "domain": ("domaine",), "domains": ("domaine",),
    "allowed": ("autorise",), "authorized": ("autorise",), "whitelist": ("autorise",),
    "mailbox": ("boite",), "mailboxes": ("boite",), "inbox": ("boite",), "boite": (), "pause": (),
    "paused": ("pause",), "suspend": ("pause",), "suspendre": ("pause",), "forwarding": ("transfert",),
    "forward": ("transfert",), "redirection": ("transfert", "redirections"), "connect": ("connecter", "connexion"),
    "arrive": ("arrivent",), "receive": ("recus", "recevoir"), "received": ("recus",), "recus": (),
    "imported": ("importes",), "importes": ("importe",), "retroactively": ("retroactivement",),
    "missing": ("arrivent",), "where": ("trouver",), "find": ("trouver",), "trouve": ("trouver",),
    # tickets
    "tickets": ("ticket",), "request": ("demande",), "requests": ("demande", "requetes"),
    "statuses": ("statut",), "status": ("statut",), "statuts": ("statut",), "state": ("statut",),
    "resolved": ("resolu",), "resolve": ("resolu", "resolution"), "resolu": (), "closed": ("ferme",),
    "close": ("ferme", "fermeture"), "closes": ("ferme",), "fermer": ("ferme", "fermeture"), "ferme": ("fermeture",),
    "fermeture": ("ferme",), "reopen": ("rouvert", "reouverture", "repasse"), "reopened": ("rouvert", "repasse"),
    "rouvrir": ("rouvert", "reouverture", "repasse"), "rouvre": ("rouvert", "repasse"),
    "automatically": ("automatiquement",), "automatic": ("automatiquement",), "auto": ("automatiquement",),
    "automatique": ("automatiquement",), "reply": ("repond", "reponse"), "replies": ("repond", "reponse"),
    "answer": ("repond", "reponse"), "answers": ("reponse",), "repond": ("reponse",), "repondre": ("repond",),
    "days": ("jours",), "day": ("jour",), "hours": ("heures",), "hour": ("heure",), "minutes": (),
    "priority": ("priorite",), "priorities": ("priorite",), "urgent": ("urgente", "urgents"),
    "urgente": ("urgent",), "high": ("haute", "hauts"), "low": ("basse", "bas"), "normal": ("normale",),
    "top": ("haut",), "older": ("anciens",), "old": ("anciens",), "sort": ("ordre",), "sorted": ("ordre",),
    "views": ("vues",), "view": ("vue",), "tag": ("tags",), "tags": ("tag",), "label": ("tag",),
    "labels": ("tag",), "note": ("notes",), "internal": ("interne",), "private": ("prive", "interne"),
    "history": ("historique",), "historique": (), "assigned": ("assigne",), "assign": ("assigne",),
    # automations
    "automation": ("automatisation", "regle"), "automations": ("automatisation", "regle"),
    "automatisations": ("automatisation",), "automatisation": ("regle",), "rules": ("regle",),
    "rule": ("regle",), "regles": ("regle",), "regle": ("automatisation",), "active": ("actives",),
    "order": ("ordre",), "ordre": (), "executed": ("executees", "evaluees"), "run": ("executees", "evaluees"),
    "evaluated": ("evaluees",), "executees": ("evaluees",), "evaluees": ("executees",),
    "trigger": ("declenchent", "declencher"), "triggered": ("declenchent",), "fire": ("declenchent",),
    "declenche": ("declenchent",), "declenchent": (), "next": ("suivantes",), "following": ("suivantes",),
    "prevent": ("empecher", "stopper"), "empecher": ("stopper",), "arreter": ("stopper",),
    # knowledge base
    "articles": ("article",), "article": (), "draft": ("brouillon",), "drafts": ("brouillon",),
    "brouillons": ("brouillon",), "published": ("publie",), "publish": ("publier", "publie"),
    "publies": ("publie",), "archived": ("archive",), "archive": ("archives",), "archives": ("archive",),
    "suggested": ("suggeres", "suggestion"), "suggest": ("suggestion", "propose"), "suggestions": ("suggestion",),
    "suggere": ("suggeres", "suggestion"), "suggeres": ("suggestion",), "proposes": ("propose", "suggestion"),
    "collections": ("collection",), "title": ("titre",), "keywords": ("mots-cles",),
    # data
    "export": ("exports",), "exports": ("export",), "exporter": ("export",), "exported": ("export",),
    "import": ("imports",), "imports": ("import",), "importer": ("import",), "upload": ("import",),
    "csv": (), "file": ("fichier",), "files": ("fichier",), "fichiers": ("fichier",),
    "attachments": ("pieces jointes",), "attachment": ("pieces jointes",), "fichiers joints": ("pieces jointes",),
    "size": ("taille",), "big": ("taille",), "large": ("taille",), "lines": ("lignes",), "rows": ("lignes",),
    "row": ("lignes",), "ligne": ("lignes",), "mb": (), "mo": ("mb",), "megabytes": ("mb",),
    "migrate": ("migration",), "migrating": ("migration",), "migrer": ("migration",), "switching": ("migration",),
    "quarter": ("trimestre",), "steps": ("etapes",), "etapes": (), "columns": ("colonnes",),
    "data": ("donnees",), "storage": ("stockage",),
    "resilier": ("resiliation",), "unsubscribe": ("resiliation",), "quitter": ("resiliation",),
    # API, webhooks
    "api": ("rest",), "rest": ("api",), "webhook": ("webhooks",), "webhooks": ("webhook",),
    "fails": ("echoue", "echecs"), "fail": ("echoue", "echecs"), "failed": ("echoue", "echecs"),
    "failure": ("echecs", "echoue"), "failures": ("echecs",), "echec": ("echecs", "echoue"),
    "echoue": ("echecs",), "plante": ("echoue",), "erreur": ("echoue", "erreur"), "error": ("erreur", "echoue"),
    "times": ("fois",), "retried": ("reessaie",), "reessaye": ("reessaie",), "requetes": ("requetes",),
    "minute": ("minute",), "notify": ("notifier",), "notifies": ("notifier",),
    # SLA, hours, notifications
    "sla": ("slas",), "slas": ("sla",), "target": ("objectif", "cible"), "targets": ("objectif",),
    "goal": ("objectif",), "objective": ("objectif",), "objectifs": ("objectif",), "cible": ("objectif",),
    "objectif": ("cible",),
    "calculated": ("calcules",), "computed": ("calcules",), "measured": ("mesurent", "calcules"),
    "calcule": ("calcules",), "calcul": ("calcules",), "mesure": ("mesurent",), "reports": ("rapports",),
    "report": ("rapports",), "reporting": ("rapports",), "rapport": ("rapports",), "schedule": ("horaires",),
    "opening": ("ouverture",), "horaires": ("horaires",), "ouvrees": ("ouvres",),
    "notifications": ("notification",), "notification": ("notifications",), "alerted": ("notification",),
    "before": ("avant",), "deadline": ("echeance",), "breach": ("depasse",), "breached": ("depasse",),
    "summary": ("resume",), "resume": ("quotidien",), "quotidien": ("resume",), "daily": ("quotidien",),
    "sent": ("envoye", "envoyees"), "send": ("envoye",), "envoye": ("envoyees",), "timezone": ("fuseau",),
    "fuseau": (), "mention": ("mention",), "browser": ("navigateur",),
    # misc
    "procedure": ("verifier",), "fix": ("verifier",), "troubleshoot": ("verifier", "depannage"),
    "depanner": ("depannage", "verifier"), "probleme": ("verifier",), "problem": ("verifier",),
    "issue": ("verifier",), "why": ("causes",), "pourquoi": ("causes",), "cause": ("causes",),
    "promise": ("promettre",), "promettre": (), "delivery": ("livraison",), "date": (),
    "bug": ("incident", "erreur"), "incident": ("bug",), "screenshot": ("capture",),
    "capture": (), "language": ("langue",), "languages": ("langue",), "langues": ("langue",),
    "onboarding": ("demarrer",), "start": ("demarrer",), "getting": ("demarrer",), "demarrer": (),
    "concepts": ("concept",), "organization": ("organisation",), "organisation": (),
    "workspace": ("espace", "organisation"), "espace": ("organisation",), "glossary": ("glossaire",),
    "means": ("signifie", "designe"), "meaning": ("signifie",), "signifie": ("designe",),
    "definition": ("designe", "signifie"), "veut": ("signifie",),
    # display, availability, permission
    "affiche": ("apparaissent", "apparait"), "affichee": ("affiche", "apparaissent"),
    "displayed": ("affiche", "apparaissent"), "premier": ("haut",), "first": ("premier", "premiere", "haut"),
    "stay": ("restent", "reste"), "stays": ("restent", "reste"), "remain": ("restent", "reste"),
    "remains": ("restent", "reste"), "rester": ("restent", "reste"), "restent": ("reste",),
    "consultable": ("consultables", "disponible"), "accessible": ("consultables", "disponible"),
    "autorise": ("permet",), "autoriser": ("permet", "autorise"), "allow": ("permet", "autorise"),
    "allows": ("permet", "autorise"), "permettre": ("permet",),
}


def rewrite(question: str) -> str:
    """The folded question with its known phrases rewritten (English → French, set phrases)."""
    text = fold(question)
    text = re.sub(r"(\w)'(\w)", r"\1 \2", text)  # l'essai -> l essai, d'automatisation
    for pattern, replacement in _PHRASES:
        text = pattern.sub(f" {replacement} ", text)
    return text


def inflections(word: str) -> list[str]:
    """Singular and plural: French stemming does not always bring them together ("forfait" / "forfaits")."""
    if word.isdigit() or len(word) < 4 or "-" in word or " " in word:
        return []
    if word.endswith(("s", "x")):
        return [word[:-1]]
    return [word + "s"]


def alternatives(word: str) -> tuple[str, ...]:
    """The word's synonyms, and those of its singular or plural ("affiches" -> those of "affiche")."""
    out = list(SYNONYMS.get(word, ()))
    for other in inflections(word):
        out += [s for s in SYNONYMS.get(other, ()) if s not in out and s != word]
    return tuple(out)


# Named things: a question naming one is only answered by a passage that names it too.
PLAN_NAMES = {"starter", "business", "scale", "enterprise"}
PLAN_WIDE = re.compile(r"tous les forfaits|uniquement sur|reserve[es]* aux forfaits|reservee a")
