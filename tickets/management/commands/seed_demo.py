"""``python manage.py seed_demo``: the demo organizations, their team, customers and tickets.

- "LumioDesk Demo" (slug ``demo``): LumioDesk's own support team answering its customers
  (invoices, password resets, widget, SLA, bugs, feature requests), ~300 tickets;
- "Atelier Nord" (slug ``atelier-nord``): a small furniture workshop, ~15 tickets, where
  admin@lumiodesk.test is also Admin (organization switching).

Every change goes through the real services (``crm.services``, ``tickets.services``), so
the rules hold: numbering, new -> open on the first reply, reopening on a customer reply,
customer notifications by preference, audit rows, search documents.

Deterministic: one ``random.Random`` per organization with a fixed seed, and every
timestamp relative to a fixed anchor (``--anchor``, default 2026-11-01 00:00 UTC). While a
ticket's script runs, ``django.utils.timezone.now`` is replaced by a clock set to the
scripted time of each step, so the services stamp created_at, updated_at,
status_changed_at, first_response_at, resolved_at, closed_at and the audit rows
consistently (messages after the ticket's creation, in order). Notification rows (whose
default is not looked up through the module) are dated afterwards with one bulk UPDATE.

No email leaves: the notification email task is not queued while seeding (the
notifications are stored as already emailed), so it works without a Celery worker.

Idempotent: an organization that already has its tickets is left alone.
"""

from __future__ import annotations

import random
import time
import unicodedata
import zoneinfo
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from crm.models import Company, Customer, NotificationPreference
from crm.services import get_or_create_customer
from lumiodesk import notifications as agent_notifications
from lumiodesk.models import Membership, Organization, Plan, Role
from lumiodesk.models import NotificationPreference as AgentNotificationPreference
from lumiodesk.permissions import MemberActor, SystemActor
from sla.models import Holiday
from sla.services import create_defaults, restamp_open_tickets
from tickets import services, tasks
from tickets.models import (
    Channel,
    CustomerNotification,
    Message,
    MessageKind,
    Priority,
    ReplyTemplate,
    SavedView,
    Status,
    Tag,
    Ticket,
)
from tickets.replies import render_reply_template

User = get_user_model()

DEFAULT_ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
PASSWORD = "demo-lumiodesk"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
SEED = 20261101
SEED_ACTOR = SystemActor("seed_demo")  # what the demo does without a named member

# --- people ----------------------------------------------------------------------------------------------

DEMO_TEAM = [
    # email, first name, last name, role, share of the tickets they are assigned
    ("admin@lumiodesk.test", "Claire", "Fontaine", Role.ADMIN, 2),
    ("manager@lumiodesk.test", "Julien", "Mercier", Role.MANAGER, 6),
    ("agent@lumiodesk.test", "Sophie", "Lambert", Role.AGENT, 30),
    ("viewer@lumiodesk.test", "Thomas", "Girard", Role.VIEWER, 0),
    ("nadia.benali@lumiodesk.test", "Nadia", "Benali", Role.AGENT, 24),
    ("hugo.perrin@lumiodesk.test", "Hugo", "Perrin", Role.AGENT, 22),
    ("lea.rousseau@lumiodesk.test", "Léa", "Rousseau", Role.AGENT, 18),
]
NORD_TEAM = [
    ("admin@lumiodesk.test", "Claire", "Fontaine", Role.ADMIN, 35),
    ("manon.chevalier@atelier-nord.test", "Manon", "Chevalier", Role.AGENT, 65),
]

FIRST_NAMES = [
    "Camille", "Louise", "Emma", "Chloé", "Manon", "Inès", "Juliette", "Alice", "Sarah", "Lucie", "Margaux",
    "Élodie", "Anaïs", "Mathilde", "Pauline", "Amélie", "Céline", "Nathalie", "Isabelle", "Sandrine", "Aurélie",
    "Hélène", "Agnès", "Mélanie", "Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Maxime", "Antoine",
    "Nicolas", "Julien", "Thomas", "Pierre", "Olivier", "Sébastien", "François", "Mathieu", "Romain", "Benoît",
    "Cédric", "Jérôme", "Laurent", "Stéphane", "Yannick", "Karim", "Mehdi", "Sofiane", "Yasmine", "Nora",
]
LAST_NAMES = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
    "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
    "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand", "Garnier",
    "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin", "Morin",
    "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin", "Masson", "Sanchez",
    "Gérard", "Nguyen", "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Gautier", "Roger", "Roche", "Le Gall",
    "Kerjean", "Benali", "Haddad", "Da Silva",
]
COMPANIES = [
    "Boulangerie Martin & Fils", "Cabinet Lefort Avocats", "Librairie du Marais", "Transports Rivière",
    "Studio Pixelune", "Maison Cazenave", "Vélos Lumière", "Clinique vétérinaire des Alpes",
    "Agence Horizon Voyages", "Fromagerie Delmas", "Groupe Solvéo", "Nébuleuse Jeux", "Éditions Chardon",
    "Pharmacie du Vieux-Port", "Domaine des Trois Chênes", "Kerlann Immobilier", "Mobilités Urbaines",
    "Optique Vision Claire", "La Ruche Numérique", "Brasserie Gambrinus", "École de musique Piano Forte",
    "Fleurs de Provence", "Cyclades Informatique", "Mutuelle des Artisans du Rhône", "Atelier Cuir & Lin",
    "Hôtel Le Belvédère", "Biocoop des Tilleuls", "Scop Les Compagnons", "Garage Moderne Lemaire",
    "Tisanes & Merveilles",
]
PREFERENCES = [
    (NotificationPreference.BOTH, 50),
    (NotificationPreference.EMAIL_ONLY, 22),
    (NotificationPreference.WEB_ONLY, 18),
    (NotificationPreference.NONE, 10),
]
CUSTOMER_PLANS = [("Starter", 40), ("Business", 40), ("Scale", 15), ("Enterprise", 5)]
PLAN_PRICES = {"Starter": (29, 9, 2), "Business": (89, 7, 20), "Scale": (249, 5, 100), "Enterprise": (249, 5, 100)}

FR_MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre"]
BROWSERS = ["Chrome 130", "Firefox 132", "Safari 18", "Edge 130", "Chrome sur Android"]
PROVIDERS = ["Gmail", "Outlook", "Zoho Mail", "OVH", "Infomaniak"]
SITES = ["www.{slug}.fr", "boutique.{slug}.fr", "{slug}.com", "www.{slug}.com"]

# --- what the customers write about (LumioDesk documentation and support guide) ------------------------------
# Texts use {placeholders} filled per ticket (see _variables). ``variants`` pair a subject with its
# opening message; the other texts are the steps of the conversation.

DEMO_SCENARIOS: list[dict] = [
    {
        "key": "invoice", "weight": 9, "tags": ["facturation"],
        "priority": {"normal": 8, "low": 2},
        "variants": [
            ("Montant de la facture {of_month} incorrect",
             "Notre facture {of_month} ({invoice}) s'élève à {amount} EUR alors que nous sommes sur le forfait "
             "{plan} à {price} EUR par mois. Pourriez-vous m'expliquer la différence ? À ma connaissance nous "
             "n'avons ajouté personne à l'équipe."),
            ("Facture {invoice} : montant contesté",
             "Je conteste le montant de la facture {invoice} : {amount} EUR au lieu des {price} EUR habituels. "
             "Notre comptable a besoin d'une explication avant de la régler."),
            ("Je ne comprends pas ma facture {of_month}",
             "Bonjour, notre facture {of_month} comporte une ligne « agents supplémentaires » que je ne comprends "
             "pas. Nous avons toujours eu le même nombre d'agents. Pouvez-vous vérifier ?"),
        ],
        "ask": "Pour vérifier votre facture, pourriez-vous me préciser :\n- le nom de l'organisation concernée ;\n"
               "- si un agent a été invité ou réactivé en cours de mois ;\n- si le forfait a été modifié récemment ?",
        "answer": "L'organisation s'appelle {company_or_name}. Effectivement, un collègue a invité deux agents "
                  "temporaires le {day} pour le pic d'activité, je n'avais pas vu que c'était facturé.",
        "solution": "J'ai vérifié votre compte : la différence correspond à deux agents supplémentaires ajoutés le "
                    "{day}, facturés au prorata ({extra} EUR par mois et par agent sur {plan}). Les factures sont "
                    "générées le premier jour du mois en UTC, la régularisation apparaît donc sur la facture "
                    "suivante.\n\nSi ces agents ne sont plus nécessaires, vous pouvez les désactiver depuis "
                    "Paramètres > Équipe : ils ne seront plus facturés à partir du mois prochain.",
        "note": "Vérifié dans la facturation : 2 agents ajoutés en cours de mois, prorata correct. Pas de geste "
                "commercial nécessaire.",
    },
    {
        "key": "double_charge", "weight": 4, "tags": ["facturation"],
        "priority": {"normal": 7, "high": 3},
        "variants": [
            ("Double prélèvement sur notre carte bancaire",
             "Nous avons été débités deux fois de {price} EUR le 1er {month_next}. Pouvez-vous vérifier et nous "
             "rembourser le doublon ?"),
            ("Prélevés deux fois ce mois-ci",
             "Notre relevé bancaire montre deux prélèvements LumioDesk identiques de {price} EUR ce mois-ci. "
             "Merci de corriger rapidement, notre trésorerie est suivie de près."),
        ],
        "ask": "Pourriez-vous m'envoyer les quatre derniers chiffres de la carte utilisée et une capture du relevé "
               "où apparaissent les deux prélèvements ?",
        "answer": "Voici : carte se terminant par {last4}, les deux lignes sont datées du 1er {month_next}, "
                  "même montant. La capture est dans le mail précédent de notre comptable.",
        "solution": "Le second prélèvement était bien un doublon, dû à une nouvelle tentative de paiement après un "
                    "refus temporaire de votre banque. Le remboursement de {price} EUR a été validé et apparaîtra "
                    "sous 5 à 10 jours ouvrés sur votre relevé.\n\nToutes nos excuses pour ce désagrément.",
        "note": "Remboursement de {price} EUR : {approver}. Aucun remboursement n'est déclenché automatiquement.",
        "escalate_note": "Doublon confirmé côté prestataire de paiement. Remboursement de {price} EUR à valider "
                         "({approver}).",
        "escalate_reply": "Le doublon est confirmé. Le remboursement doit être validé par notre responsable, je "
                          "reviens vers vous dès que c'est fait.",
    },
    {
        "key": "vat", "weight": 3, "tags": ["facturation"],
        "priority": {"low": 6, "normal": 4},
        "variants": [
            ("Ajouter notre numéro de TVA sur les factures",
             "Notre service comptable a besoin que notre numéro de TVA intracommunautaire {vat} figure sur nos "
             "factures. Est-il possible de modifier la facture {of_month} et les suivantes ?"),
            ("Facture avec numéro de TVA intracommunautaire",
             "Pouvez-vous ajouter le numéro de TVA {vat} et notre raison sociale sur nos factures ? Sinon notre "
             "cabinet comptable ne peut pas les traiter."),
        ],
        "ask": "Pourriez-vous me confirmer la raison sociale exacte et l'adresse à faire figurer à côté du numéro "
               "de TVA ?",
        "answer": "La raison sociale est {company_or_name}, l'adresse ne change pas. Merci !",
        "solution": "C'est fait : le numéro {vat} a été ajouté aux informations de facturation de votre "
                    "organisation. Il figurera sur toutes les prochaines factures, et j'ai régénéré celle "
                    "{of_month}, disponible dans Paramètres > Facturation.",
    },
    {
        "key": "plan_change", "weight": 4, "tags": ["facturation", "question-produit"],
        "priority": {"normal": 6, "low": 4},
        "variants": [
            ("Passer de Starter à Business en cours de mois",
             "Nous sommes sur Starter et nous aimerions passer sur Business pour le SSO. Si nous changeons "
             "aujourd'hui, est-ce que tout le mois est facturé au nouveau tarif ?"),
            ("Changement de forfait et prorata",
             "Nous allons passer de 8 à 14 agents. Vaut-il mieux rester sur {plan} et payer les agents "
             "supplémentaires, ou changer de forfait ? Comment est calculé le mois en cours ?"),
        ],
        "solution": "Un changement de forfait en milieu de mois est calculé au prorata : vous payez l'ancien "
                    "forfait jusqu'à la date du changement, puis le nouveau pour le reste du mois. Pour comparer : "
                    "Starter inclut 3 agents (9 EUR par agent supplémentaire), Business 10 agents (7 EUR) et "
                    "Scale 30 agents (5 EUR).\n\nUn Admin de votre organisation peut faire le changement depuis "
                    "Paramètres > Facturation ; le SSO SAML est disponible dès le passage sur Business.",
    },
    {
        "key": "password", "weight": 9, "tags": ["question-produit"],
        "priority": {"normal": 7, "high": 3},
        "variants": [
            ("Impossible de réinitialiser mon mot de passe",
             "Depuis ce matin je n'arrive plus à me connecter à la console. J'ai cliqué sur « Mot de passe "
             "oublié » trois fois mais je ne reçois aucun email, même dans les spams. Mon adresse est {email}."),
            ("Je ne reçois pas l'email de réinitialisation",
             "Je ne reçois pas l'email de réinitialisation du mot de passe. J'ai vérifié les indésirables. "
             "Pouvez-vous m'aider, j'ai des tickets clients en attente ?"),
            ("Lien de réinitialisation expiré",
             "Le lien de réinitialisation de mot de passe que j'ai reçu indique « lien expiré » alors que je viens "
             "de le recevoir. Que faire ?"),
        ],
        "ask": "Pourriez-vous vérifier si votre messagerie filtre les emails envoyés par LumioDesk, et me dire à "
               "quelle heure approximative vous avez fait la dernière demande ?",
        "answer": "J'ai retrouvé les emails dans la quarantaine de notre antivirus. Par contre le lien indique "
                  "maintenant qu'il a expiré.",
        "solution": "Les liens de réinitialisation sont valables une heure, c'est pourquoi celui de la quarantaine "
                    "avait expiré. Je vous ai renvoyé un nouveau lien à l'instant : pensez à ajouter notre adresse "
                    "d'envoi à la liste blanche de votre antivirus.\n\nJe vous conseille aussi d'activer "
                    "l'authentification à deux facteurs, disponible sur tous les forfaits.",
        "note": "Domaine du client derrière une passerelle antivirus qui met nos emails en quarantaine.",
    },
    {
        "key": "two_factor", "weight": 3, "tags": ["question-produit"],
        "priority": {"high": 6, "normal": 4},
        "variants": [
            ("Code de double authentification refusé",
             "J'ai changé de téléphone et l'application d'authentification ne me donne plus les bons codes. Je "
             "suis bloqué hors de mon compte agent alors que j'ai des tickets en cours."),
            ("Téléphone perdu, impossible de passer la 2FA",
             "J'ai perdu mon téléphone ce week-end et je ne peux plus valider la double authentification. "
             "Comment récupérer l'accès à mon compte ?"),
        ],
        "ask": "Pour des raisons de sécurité, la réinitialisation de la double authentification doit être "
               "confirmée par un Admin de votre organisation. Pourriez-vous lui demander de nous écrire depuis son "
               "adresse ?",
        "answer": "Notre Admin, {colleague}, vient de vous écrire depuis son adresse pour confirmer la demande.",
        "solution": "Merci, la demande a bien été confirmée par votre Admin. La double authentification de votre "
                    "compte est réinitialisée : à la prochaine connexion, vous pourrez enregistrer votre nouveau "
                    "téléphone.",
    },
    {
        "key": "widget", "weight": 9, "tags": ["bug"], "urgent_share": 0.15,
        "priority": {"high": 6, "normal": 4},
        "variants": [
            ("Le widget chat ne s'affiche plus sur notre site",
             "Depuis la mise en ligne de notre nouveau site {site} hier soir, la bulle du widget chat n'apparaît "
             "plus du tout. Le script est pourtant bien copié depuis Paramètres > Canaux > Chat. Nos clients ne "
             "peuvent plus nous contacter par chat."),
            ("Widget invisible sur {site}",
             "Le widget n'apparaît pas sur {site}, alors qu'il fonctionne sur notre site de test. Avez-vous une "
             "idée ?"),
            ("Bulle de chat absente depuis la mise en production",
             "Nous avons mis en production notre refonte ce matin et le widget chat a disparu. C'est notre "
             "principal canal de contact, pouvez-vous regarder vite ?"),
        ],
        "ask": "Pour identifier la cause, pourriez-vous me préciser :\n- l'URL exacte d'une page où le widget "
               "devrait apparaître ;\n- le navigateur utilisé ;\n- si le script est placé juste avant la balise "
               "</body> ?\nUne capture de la console du navigateur nous aiderait aussi.",
        "answer": "La page est https://{site}/contact, testée sous {browser}. Le script est dans le <head> avec "
                  "les autres balises. La console affiche « domain not allowed ».",
        "solution": "Merci pour ces éléments : le message « domain not allowed » indique que le domaine {site} "
                    "n'est pas autorisé. Voici les étapes :\n1. Allez dans Paramètres > Canaux > Chat.\n"
                    "2. Ajoutez {site} à la liste des domaines autorisés.\n3. Placez le script juste avant la "
                    "balise </body> de fermeture.\n\nVérifiez aussi qu'aucun bloqueur de contenu ne bloque "
                    "cdn.lumidesk.example. Le widget devrait réapparaître immédiatement.",
        "note": "Domaine {site} absent de la liste des domaines autorisés : cas très fréquent après une refonte.",
        "escalate_note": "Domaine autorisé et script bien placé, mais le widget ne charge toujours pas sur {site}. "
                         "Transmis à l'équipe technique (#dev-team) avec l'URL et la capture de la console.",
        "escalate_reply": "Votre configuration est correcte : j'ai transmis le cas à notre équipe technique avec "
                          "tous les éléments. Je reviens vers vous dès que j'ai leur retour.",
    },
    {
        "key": "email_intake", "weight": 7, "tags": ["bug"], "urgent_share": 0.25,
        "priority": {"high": 7, "normal": 3},
        "variants": [
            ("Les emails clients n'arrivent plus dans LumioDesk",
             "Depuis ce matin vers {hour}h, plus aucun email envoyé à {support_address} ne crée de ticket. Nos "
             "clients nous écrivent mais rien n'apparaît dans la console. Nous utilisons le transfert automatique "
             "depuis {provider}."),
            ("Plus aucun ticket créé depuis notre boîte support",
             "Notre boîte {support_address} ne remonte plus rien dans LumioDesk depuis hier soir. Nous ne pouvons "
             "plus traiter les demandes de nos clients, c'est très bloquant."),
            ("Transfert email : rien ne remonte depuis ce matin",
             "Le transfert de {support_address} vers LumioDesk semble cassé : le dernier ticket date de {hour}h. "
             "Pouvez-vous vérifier de votre côté ?"),
        ],
        "ask": "Pourriez-vous vérifier que le transfert est toujours actif chez {provider}, que l'adresse de "
               "destination est bien l'adresse LumioDesk générée, et nous indiquer l'heure d'envoi d'un email de "
               "test ?",
        "answer": "Vous aviez raison : une règle de sécurité {provider} a désactivé le transfert automatique vers "
                  "l'extérieur. Je l'ai réactivée, un email de test envoyé à {hour2}h est bien arrivé.",
        "solution": "Parfait, tout est rentré dans l'ordre. Attention : les emails reçus pendant l'interruption ne "
                    "sont pas importés rétroactivement. Je vous conseille de les transférer manuellement à votre "
                    "adresse LumioDesk pour qu'ils deviennent des tickets.",
        "note": "Transfert désactivé par une règle de sécurité du fournisseur email du client.",
        "escalate_note": "Transfert actif côté client et adresse correcte. Possible souci sur notre passerelle "
                         "entrante : escaladé à l'équipe technique.",
        "escalate_reply": "La configuration de votre côté est correcte. J'ai escaladé le problème à notre équipe "
                          "technique en priorité et je vous tiens informé de l'avancement.",
    },
    {
        "key": "automation", "weight": 5, "tags": ["bug"],
        "priority": {"normal": 8, "high": 2},
        "variants": [
            ("Une règle d'automatisation ne se déclenche pas",
             "Nous avons une règle « si le sujet contient facture, ajouter le tag facturation » mais depuis "
             "quelques jours elle ne s'applique plus. Le ticket d'un client ce matin avec « Facture » dans le "
             "sujet n'a pas été tagué."),
            ("Le tag facturation n'est plus ajouté automatiquement",
             "Notre automatisation qui ajoute le tag facturation ne fonctionne plus depuis que nous avons créé "
             "d'autres règles. Est-ce un bug ?"),
        ],
        "ask": "Pourriez-vous me donner le numéro d'un ticket concerné ? Je vais consulter son journal "
               "d'automatisation.",
        "answer": "Par exemple le ticket n° {n} de ce matin.",
        "solution": "Le journal d'automatisation du ticket n° {n} montre qu'une règle placée avant la vôtre a "
                    "l'option « Stopper après cette règle » activée : l'évaluation s'arrête donc avant d'atteindre "
                    "votre règle. Les automatisations sont évaluées dans l'ordre affiché.\n\nDeux solutions : "
                    "désactiver cette option, ou remonter votre règle facturation en tête de liste.",
        "note": "Ordre des règles + option « Stopper après cette règle ». Rien d'anormal côté moteur.",
    },
    {
        "key": "export", "weight": 4, "tags": ["question-produit"],
        "priority": {"normal": 6, "low": 4},
        "variants": [
            ("L'export CSV ne contient pas les pièces jointes",
             "J'ai lancé un export des tickets du trimestre depuis Rapports > Exports mais le fichier ne contient "
             "aucune pièce jointe. Est-ce un bug ? Nous en avons besoin pour un audit."),
            ("Limite d'exports atteinte",
             "Impossible de lancer un nouvel export : un message indique que la limite est atteinte. Pouvez-vous "
             "débloquer un export supplémentaire ce mois-ci ?"),
        ],
        "solution": "Ce n'est pas un bug : les pièces jointes ne sont jamais incluses dans les exports CSV. Elles "
                    "se téléchargent depuis l'archive complète, disponible sur Business et Scale. Pour information, "
                    "votre forfait {plan} permet {exports} exports CSV par mois ; le compteur repart à zéro le "
                    "premier du mois.",
    },
    {
        "key": "sla", "weight": 6, "tags": ["question-produit"],
        "priority": {"low": 5, "normal": 5},
        "variants": [
            ("Comment sont calculés les délais SLA ?",
             "Notre rapport SLA indique des premières réponses hors délai alors que nous répondons toujours le "
             "matin même. Comment sont calculés les SLA ? Est-ce que la nuit compte ?"),
            ("Objectif SLA pour un ticket urgent",
             "Quel est l'objectif de première réponse et de résolution pour un ticket urgent ? Nous voulons "
             "l'indiquer dans nos conditions de service."),
            ("SLA et horaires d'ouverture",
             "Nos agents travaillent de 8h à 17h. Le calcul des SLA tient-il compte de nos horaires ou est-il en "
             "heures calendaires ?"),
        ],
        "ask": "Pourriez-vous m'indiquer un ticket concerné et les horaires d'ouverture configurés dans "
               "Paramètres > Horaires ?",
        "answer": "Nos horaires sont 8h-17h, mais je vois que le fuseau horaire de l'organisation est resté sur "
                  "UTC au lieu de Paris.",
        "solution": "Les SLA mesurent le délai de première réponse et le délai de résolution, uniquement pendant "
                    "les horaires d'ouverture configurés dans Paramètres > Horaires (par défaut lundi-vendredi, "
                    "9h-18h) : la nuit et le week-end ne comptent pas.\n\nLes objectifs dépendent de la priorité : "
                    "premiere réponse en 30 minutes ouvrées pour un ticket urgent (résolution en 4 heures), 2 heures "
                    "pour un ticket haut, 8 heures pour un ticket normal et 24 heures pour un ticket bas. Vérifiez "
                    "aussi le fuseau horaire de l'organisation : c'est souvent la cause de ce type d'écart.",
    },
    {
        "key": "sso", "weight": 3, "tags": ["question-produit"],
        "priority": {"low": 6, "normal": 4},
        "variants": [
            ("Le SSO est-il disponible sur Starter ?",
             "Notre DSI souhaite que nos agents se connectent via notre fournisseur d'identité (SAML). Est-ce "
             "possible avec notre forfait {plan} ?"),
            ("Configurer le SSO SAML",
             "Nous voulons activer le SSO SAML avec Azure AD. Où se trouve la configuration ?"),
        ],
        "solution": "Le SSO SAML est disponible uniquement sur les forfaits Business et Scale, dans Paramètres > "
                    "Sécurité. Sur Starter, vous pouvez en revanche rendre la double authentification obligatoire "
                    "pour tous vos agents. Si vous passez sur Business, le changement est calculé au prorata.",
    },
    {
        "key": "api", "weight": 3, "tags": ["question-produit"],
        "priority": {"normal": 7, "high": 3},
        "variants": [
            ("Erreurs 429 sur l'API REST",
             "Notre intégration reçoit régulièrement des erreurs 429 de l'API quand nous synchronisons nos "
             "clients le soir. Quelle est la limite exacte ?"),
            ("Webhook désactivé automatiquement",
             "Notre système interne ne reçoit plus les notifications de tickets résolus depuis mardi. Dans "
             "l'interface, le webhook apparaît comme désactivé."),
        ],
        "solution": "Les erreurs 429 indiquent que la limite de requêtes est atteinte : 600 requêtes par minute sur "
                    "Business, 2 400 sur Scale. Espacez les appels et respectez l'en-tête Retry-After.\n\nPour les "
                    "webhooks : un appel échoué est réessayé 6 fois pendant 24 heures ; après 6 échecs, le webhook "
                    "est désactivé automatiquement. Réactivez-le depuis Paramètres > API une fois votre serveur "
                    "disponible.",
        "note": "Le serveur du client répondait en erreur 503 pendant sa maintenance de mardi.",
    },
    {
        "key": "kb", "weight": 3, "tags": ["question-produit"],
        "priority": {"low": 5, "normal": 5},
        "variants": [
            ("Article non suggéré dans le widget",
             "Nous avons rédigé un article « Suivre ma commande » mais il n'est jamais proposé dans le widget, "
             "même quand un client tape « commande »."),
            ("Nos articles archivés sont-ils encore visibles ?",
             "Si j'archive un vieil article de la base de connaissance, est-ce que nos clients peuvent encore le "
             "voir ?"),
        ],
        "ask": "L'article est-il publié ou encore en brouillon, et dans quelle collection se trouve-t-il ?",
        "answer": "Il est encore en brouillon, dans la collection « Premiers pas ».",
        "solution": "Le moteur de suggestion du widget ne propose que les articles publiés : les brouillons et les "
                    "articles archivés ne sont jamais suggérés ni visibles côté client (les agents gardent l'accès "
                    "aux archives dans l'historique). Publiez l'article et vérifiez que son titre contient les "
                    "mots-clés attendus.",
    },
    {
        "key": "trial", "weight": 3, "tags": ["question-produit"],
        "priority": {"low": 5, "normal": 5},
        "variants": [
            ("Que se passe-t-il à la fin de l'essai ?",
             "Notre essai se termine dans trois jours. Que se passe-t-il si nous n'avons pas encore choisi de "
             "forfait ? Faut-il une carte bancaire ?"),
        ],
        "solution": "L'essai dure 14 jours, sans carte bancaire. À la fin, si aucun forfait n'est choisi, "
                    "l'organisation passe en lecture seule : vos agents consultent les tickets existants mais ne "
                    "peuvent plus répondre, créer de tickets ni publier d'articles. Il suffit de choisir un forfait "
                    "dans Paramètres > Facturation pour tout réactiver.",
    },
    {
        "key": "feature", "weight": 8, "tags": ["feature-request"], "feature": True,
        "priority": {"low": 8, "normal": 2},
        "variants": [
            ("Suggestion : notifier Slack pour les tickets urgents",
             "Ce serait très pratique de recevoir une alerte dans notre canal Slack quand un ticket urgent "
             "arrive. Nos {agents} agents ne gardent pas toujours la console ouverte."),
            ("Export PDF des rapports SLA",
             "Notre direction voudrait recevoir chaque mois le rapport SLA en PDF. Est-ce prévu ?"),
            ("Mode sombre pour la console agent",
             "Nos agents du soir aimeraient un mode sombre dans la console. Est-ce envisagé ?"),
            ("Pouvoir fusionner deux tickets",
             "Il arrive qu'un client écrive deux fois pour la même demande (email puis chat). Pourrait-on "
             "fusionner les deux tickets ?"),
            ("Champs personnalisés dans le formulaire de contact",
             "Nous aimerions ajouter un champ « numéro de commande » obligatoire dans le formulaire de contact."),
            ("Programmer l'envoi d'une réponse",
             "Serait-il possible de programmer l'envoi d'une réponse (par exemple le lendemain à 9h) ?"),
        ],
        "solution": "Merci pour cette suggestion très claire. Je l'ai transmise à notre équipe produit avec votre "
                    "cas d'usage. Je ne peux pas vous donner de date de livraison, mais la demande est bien "
                    "enregistrée.",
        "note": "Demande de fonctionnalité reformulée pour l'équipe produit. Utilisateurs concernés : {agents} "
                "agents. Pas de solution de contournement simple.",
    },
    {
        "key": "spam", "weight": 1, "tags": [], "spam": True,
        "priority": {"low": 1},
        "variants": [
            ("Offre exceptionnelle : boostez votre référencement",
             "Bonjour, nous proposons des backlinks premium à prix cassés. Répondez à ce message pour en "
             "profiter."),
            ("Partenariat commercial",
             "Madame, Monsieur, nous aimerions vous présenter notre solution de prospection automatisée."),
        ],
    },
]

NORD_SCENARIOS: list[dict] = [
    {
        "key": "late", "weight": 5, "tags": ["livraison"],
        "priority": {"normal": 7, "high": 3},
        "variants": [
            ("Commande {order} toujours pas livrée",
             "J'ai commandé une table basse en chêne le {day} (commande {order}) et je n'ai toujours aucune "
             "nouvelle de la livraison. Pouvez-vous me dire où elle en est ?"),
            ("Changer l'adresse de livraison",
             "Je viens de passer la commande {order} mais je me suis trompé d'adresse. Est-il encore possible de "
             "la modifier ?"),
        ],
        "ask": "Pourriez-vous nous confirmer l'adresse de livraison complète et un numéro de téléphone pour le "
               "transporteur ?",
        "answer": "C'est au 12 rue des Arts à Lille, et mon numéro est le {phone}.",
        "solution": "Votre commande est partie de l'atelier ce matin. Le transporteur vous appellera la veille pour "
                    "convenir d'un créneau ; le numéro de suivi est {tracking}.",
    },
    {
        "key": "damaged", "weight": 3, "tags": ["sav"],
        "priority": {"high": 6, "normal": 4},
        "variants": [
            ("Pied de table abîmé à la livraison",
             "Le colis est arrivé hier mais un des pieds de la table est fendu. J'ai fait des photos. Comment "
             "faire ?"),
        ],
        "ask": "Désolés pour ce désagrément. Pourriez-vous nous envoyer les photos du pied et du carton ?",
        "answer": "Voici les photos, le carton était enfoncé sur le côté.",
        "solution": "Merci pour les photos. Nous vous envoyons un pied de remplacement sous 5 jours ouvrés, sans "
                    "frais. Inutile de renvoyer la table.",
    },
    {
        "key": "invoice", "weight": 3, "tags": ["facturation"],
        "priority": {"low": 5, "normal": 5},
        "variants": [
            ("Facture de la commande {order}",
             "Pourriez-vous m'envoyer la facture de ma commande {order} au nom de mon entreprise ? J'en ai besoin "
             "pour ma comptabilité."),
        ],
        "solution": "Voici : la facture de la commande {order} est disponible dans votre espace client, au nom de "
                    "votre entreprise.",
    },
    {
        "key": "custom", "weight": 3, "tags": ["sur-mesure"],
        "priority": {"normal": 6, "low": 4},
        "variants": [
            ("Devis pour une bibliothèque sur mesure",
             "Je souhaiterais une bibliothèque en chêne d'environ 2,40 m de haut sur 3 m de large pour mon salon. "
             "Quel serait le délai de fabrication ?"),
            ("Table sur mesure pour 10 personnes",
             "Est-il possible de commander une table de 2,80 m en noyer massif ? Quel budget prévoir ?"),
        ],
        "ask": "Avec plaisir ! Pourriez-vous nous envoyer les dimensions exactes et une photo de la pièce ?",
        "answer": "Voici les dimensions : 238 cm de haut, 297 cm de large, avec une prise électrique à 30 cm du "
                  "sol.",
        "solution": "Notre devis est prêt et vous a été envoyé par email. Le délai de fabrication est de 6 semaines "
                    "à réception de l'acompte.",
    },
    {
        "key": "care", "weight": 2, "tags": [],
        "priority": {"low": 8, "normal": 2},
        "variants": [
            ("Entretien d'une table en chêne huilé",
             "Quel produit utiliser pour entretenir ma table en chêne huilé ? Une tache d'eau est apparue."),
        ],
        "solution": "Poncez légèrement la tache avec un papier de grain 240 dans le sens du bois, dépoussiérez, puis "
                    "appliquez une fine couche d'huile dure. Laissez sécher 24 heures avant utilisation.",
    },
]

CUSTOMER_NUDGES = [
    "Je n'ai pas encore eu de retour sur ma demande. Pouvez-vous me dire où vous en êtes ?",
    "Je me permets de relancer : le problème est toujours présent de notre côté.",
    "Des nouvelles ? C'est assez bloquant pour notre équipe.",
]
CUSTOMER_THANKS = [
    "Merci beaucoup, tout fonctionne à nouveau !",
    "Parfait, c'est réglé de notre côté. Merci pour votre réactivité.",
    "Super, merci pour ces explications claires. Vous pouvez fermer le ticket.",
]
CUSTOMER_STILL_BROKEN = [
    "Merci, mais j'ai suivi les étapes et le problème est toujours là.",
    "Malheureusement ça ne fonctionne toujours pas chez nous, même après avoir vidé le cache.",
]
GENERIC_ANSWERS = [
    "Pour compléter ma demande : nous sommes {agents} agents sur le forfait {plan}.",
    "Je précise que toute l'équipe est concernée, pas seulement moi. Je reste disponible si besoin.",
]
CUSTOMER_MORE = {  # a customer reopening a solved ticket, by the ticket's first tag
    "bug": CUSTOMER_STILL_BROKEN,
    "facturation": ["Merci pour l'explication, mais le montant ne correspond toujours pas : pouvez-vous revérifier ?"],
    "": ["Merci pour la réponse. Une précision toutefois : est-ce que cela vaut aussi pour nos autres équipes ?",
         "Merci, mais ce n'est pas encore tout à fait clair pour moi. Pouvez-vous me détailler la marche à suivre ?"],
}
FOLLOWUP_REPLY = (
    "Je me permets de revenir vers vous au sujet de votre demande « {subject} ». Avez-vous pu regarder les "
    "éléments demandés ?"
)
REOPEN_NOTES = [
    "Le client indique que le problème persiste : je reprends l'analyse.",
    "Réouvert par le client. À revoir avec {colleague_agent} demain matin.",
]
GENERIC_NOTES = [
    "Client {plan}, compte à jour.",
    "Vu avec {colleague_agent} : même cas que la semaine dernière.",
    "À surveiller : deuxième demande de ce client ce mois-ci.",
]
ANSWER_ACK = "Merci pour ces précisions, je regarde cela et je reviens vers vous rapidement."

REPLY_TEMPLATES = [
    ("Réponse initiale",
     "Bonjour {prenom_client},\n\nMerci pour votre message. J'ai bien pris en compte votre demande concernant "
     "« {sujet} ».\n\nJe regarde cela et je reviens vers vous rapidement.\n\nJe reste à votre disposition.\n\n"
     "Cordialement,\n{prenom_agent}\nÉquipe support LumioDesk"),
    ("Demande d'informations",
     "Bonjour {prenom_client},\n\nPour mieux vous aider, pourriez-vous me préciser :\n- la page ou l'écran "
     "concerné ;\n- l'heure approximative du problème ;\n- le navigateur utilisé (et une capture d'écran si "
     "possible).\n\nCela me permettra de vous apporter une solution adaptée.\n\nMerci d'avance,\n{prenom_agent}"),
    ("Solution fournie",
     "Bonjour {prenom_client},\n\nJ'ai trouvé la solution à votre problème :\n\n[Explication détaillée de la "
     "solution]\n\nÉtapes à suivre :\n1. [Étape 1]\n2. [Étape 2]\n3. [Étape 3]\n\nN'hésitez pas à me recontacter "
     "si vous avez besoin d'aide supplémentaire.\n\nCordialement,\n{prenom_agent}"),
    ("Fermeture sans réponse",
     "Bonjour {prenom_client},\n\nN'ayant pas eu de retour de votre part depuis 7 jours, je considère que votre "
     "problème est résolu.\n\nJe ferme donc ce ticket. Si vous avez encore besoin d'aide, n'hésitez pas à créer "
     "un nouveau ticket ou à répondre à celui-ci.\n\nCordialement,\n{prenom_agent}"),
]
SHARED_VIEWS = [
    ("Tickets urgents", {"priority": "urgent"}),
    ("Facturation", {"tag": "facturation"}),
    ("En attente client", {"status": "waiting_customer"}),
    ("Non assignés", {"assignee": "none"}),
]
DEMO_TAGS = ["facturation", "bug", "question-produit", "feature-request"]
NORD_TAGS = ["facturation", "livraison", "sav", "sur-mesure"]

CHANNELS = [(Channel.EMAIL, 40), (Channel.CHAT, 22), (Channel.FORM, 18), (Channel.MANUAL, 12), (Channel.API, 8)]


@dataclass(frozen=True)
class OrgSpec:
    slug: str
    name: str
    plan: str
    team: list
    scenarios: list[dict]
    tags: list[str]
    tickets: int
    customers: int
    companies: int
    status_weights: dict[str, int]
    signature: str
    with_views: bool
    days: int


DEMO = OrgSpec(
    slug="demo", name="LumioDesk Demo", plan=Plan.BUSINESS, team=DEMO_TEAM, scenarios=DEMO_SCENARIOS,
    tags=DEMO_TAGS, tickets=300, customers=120, companies=30, signature="Équipe support LumioDesk",
    status_weights={Status.NEW: 12, Status.OPEN: 15, Status.WAITING_CUSTOMER: 9, Status.WAITING_INTERNAL: 7,
                     Status.RESOLVED: 11, Status.CLOSED: 46},
    with_views=True, days=80,
)
NORD = OrgSpec(
    slug="atelier-nord", name="Atelier Nord", plan=Plan.STARTER, team=NORD_TEAM, scenarios=NORD_SCENARIOS,
    tags=NORD_TAGS, tickets=15, customers=12, companies=0, signature="L'équipe Atelier Nord",
    status_weights={Status.NEW: 2, Status.OPEN: 3, Status.WAITING_CUSTOMER: 2, Status.WAITING_INTERNAL: 1,
                    Status.RESOLVED: 2, Status.CLOSED: 5},
    with_views=False, days=40,
)


# --- the clock ---------------------------------------------------------------------------------------------


class Clock:
    """Stands in for ``django.utils.timezone.now`` while seeding: the services stamp the scripted time."""

    def __init__(self, t: datetime):
        self.t = t

    def __call__(self) -> datetime:
        return self.t


@contextmanager
def scripted_time(clock: Clock, notifications: list[tuple[int, datetime]]):
    """Services run at ``clock.t``; notification emails are recorded, not queued (no worker needed, no spam)."""
    real_notify = services.notify_customer

    def notify_customer(**kwargs):
        notification = real_notify(**kwargs)
        if notification is not None:
            notifications.append((notification.pk, clock.t))
        return notification

    with (
        mock.patch.object(timezone, "now", clock),
        mock.patch.object(services, "notify_customer", notify_customer),
        mock.patch.object(tasks.send_customer_notification_email, "delay", lambda *a, **k: None),
        agent_notifications.muted(),  # the scripted history notifies no agent
    ):
        yield


# --- helpers -----------------------------------------------------------------------------------------------


class _Vars(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")


def _dates(start: datetime) -> dict[str, str]:
    """The dates a customer writes about, in French: last month's invoice ({month}, {of_month}), debited on
    the 1st of this one ({month_next}), a day one to two weeks before writing ({day}). No random draw: the
    rest of the demo stays as it was."""
    local = start.astimezone(PARIS)
    before = local - timedelta(days=7 + local.day % 8)
    month = MONTHS_FR[(local.month - 2) % 12]
    return {"month": month, "of_month": ("d'" if month[0] in "ao" else "de ") + month,  # d'août, de mars
            "month_next": MONTHS_FR[local.month - 1], "day": f"{before.day} {MONTHS_FR[before.month - 1]}"}


def ascii_slug(text: str, sep: str = ".") -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out = "".join(c if c.isalnum() else " " for c in plain)
    return sep.join(out.split())


def weighted(rng: random.Random, pairs) -> object:
    items, weights = zip(*pairs, strict=True)
    return rng.choices(items, weights=weights)[0]


@dataclass
class Step:
    minutes: float  # after the previous step
    op: str  # customer, reply, note, status, assign, tags, priority
    text: str = ""
    status: str = ""
    value: str = ""
    system: bool = False  # done by the lifecycle, not an agent


@dataclass
class TicketScript:
    scenario: dict
    subject: str
    opening: str
    status: str
    priority: str
    channel: str
    customer: Customer
    assignee: object | None
    assigner: object | None
    variables: dict
    steps: list[Step] = field(default_factory=list)
    start: datetime | None = None


class Command(BaseCommand):
    help = "Create the demo organizations (LumioDesk Demo, Atelier Nord), their team, customers and tickets."

    def add_arguments(self, parser):
        parser.add_argument("--anchor", default=DEFAULT_ANCHOR.date().isoformat(),
                            help="Date (YYYY-MM-DD, UTC) the demo data ends at, or 'today'. Default: %(default)s.")
        parser.add_argument("--reset", action="store_true",
                            help="Delete the demo organizations (not the users) and seed them again.")

    def handle(self, *args, anchor: str, reset: bool, **options):
        started = time.monotonic()
        if anchor == "today":
            anchor_at = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
        else:
            try:
                anchor_at = datetime.fromisoformat(anchor).replace(tzinfo=UTC)
            except ValueError as exc:
                raise CommandError(f"--anchor: expected YYYY-MM-DD or 'today', got {anchor!r}") from exc
        if reset:
            for spec in (DEMO, NORD):
                self._delete(spec.slug)

        results = []
        for spec in (DEMO, NORD):
            # Each organization is seeded in one transaction: if it has tickets, it has all its data
            # (plus whatever was done in the demo since, which is kept).
            org = Organization.objects.filter(slug=spec.slug).first()
            if org is not None and Ticket.objects.filter(organization=org).exists():
                self.stdout.write(f"{spec.name} ({spec.slug}) is already seeded: nothing to do "
                                  "(--reset to seed it again).")
                continue
            results.append(Seeder(spec, anchor_at).run())
        self._channels_and_knowledge_base()
        if not results:
            self.stdout.write(self.style.SUCCESS("The demo is already seeded."))
            return
        for summary in results:
            self.stdout.write(summary)
        logins = ", ".join(f"{who}@lumiodesk.test" for who in ("admin", "manager", "agent", "viewer"))
        self.stdout.write(self.style.SUCCESS(
            f"Demo seeded in {time.monotonic() - started:.1f} s. Logins (password {PASSWORD}): {logins}"
        ))

    def _channels_and_knowledge_base(self) -> None:
        """The demo's mailbox and knowledge base (both idempotent, also on an already seeded demo)."""
        from kb.services import import_lumiodesk_documentation
        from tickets.email.models import Mailbox

        demo = Organization.objects.filter(slug=DEMO.slug).first()
        if demo is None:
            return
        mailbox, created = Mailbox.objects.get_or_create(
            organization=demo, address="support@lumiodesk.test", defaults={"name": "Support LumioDesk"}
        )
        if created:
            self.stdout.write(f"Mailbox support@lumiodesk.test (forwarding address "
                              f"{mailbox.forwarding_address(settings.INBOUND_EMAIL_DOMAIN)}).")
        # The chat widget, allowed on localhost and 127.0.0.1 (any port) so it can be tried on a local page.
        from tickets.chat.models import ChatWidget
        from tickets.chat.services import create_widget

        if not ChatWidget.objects.filter(organization=demo).exists():
            widget = create_widget(organization=demo, actor=SEED_ACTOR, allowed_domains=["localhost", "127.0.0.1"])
            self.stdout.write(f"Chat widget (localhost, 127.0.0.1): <script src=\"{settings.SITE_URL}/widget.js\" "
                              f"data-workspace=\"{widget.workspace_id}\"></script>")
        result = import_lumiodesk_documentation(organization=demo, actor=SEED_ACTOR)
        self.stdout.write(
            f"Knowledge base: {result.created} articles created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.kept} edited by the team and kept."
        )
        # automations: the four examples of section 7 as active rules (idempotent: by name).
        from automations.services import install_section7_examples

        rules = install_section7_examples(organization=demo, actor=SEED_ACTOR)
        self.stdout.write(f"Automations: {len(rules)} example rules of section 7 created.")

    def _delete(self, slug: str) -> None:
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            return
        with transaction.atomic():
            Ticket.objects.filter(organization=org).delete()  # customers are PROTECTed by their tickets
            org.delete()
        self.stdout.write(f"Deleted organization {slug}.")


class Seeder:
    def __init__(self, spec: OrgSpec, anchor: datetime):
        self.spec = spec
        self.anchor = anchor
        self.rng = random.Random(f"{SEED}-{spec.slug}")
        self.clock = Clock(anchor - timedelta(days=spec.days + 15))
        self.notifications: list[tuple[int, datetime]] = []

    # -- the whole organization, in one transaction ---------------------------------------------------------

    def run(self) -> str:
        with scripted_time(self.clock, self.notifications), transaction.atomic():
            self._setup()
            plans = [self._plan_ticket(status) for status in self._statuses()]
            for plan in plans:
                self._schedule(plan)
            plans.sort(key=lambda p: p.start)  # numbers follow creation order
            tickets = [self._play(plan) for plan in plans]
            self._satisfaction_ratings(tickets)  # tickets.portal: customers rate some resolved tickets
            self._date_notifications()
            services.refresh_search_document([t.pk for t in tickets])
        restamp_open_tickets(self.org.pk, past_alerts=False)  # old overdue tickets shown, not notified
        return self._summary()

    def _setup(self) -> None:
        spec, rng = self.spec, self.rng
        org = Organization.objects.filter(slug=spec.slug).first()
        if org is None:
            org = Organization.objects.create(name=spec.name, slug=spec.slug, language="fr",
                                              time_zone="Europe/Paris", plan=spec.plan)
        self.org = org
        create_defaults(org.pk)  # Mon–Fri 9:00–18:00 and the section 13 policies (idempotent)
        Holiday.objects.bulk_create(
            [
                Holiday(organization=org, date=date(y, m, d), name=n)
                for y in (self.anchor.year, self.anchor.year + 1)
                for (m, d, n) in (
                    (1, 1, "Jour de l'an"), (5, 1, "Fête du travail"), (5, 8, "Victoire 1945"),
                    (7, 14, "Fête nationale"), (8, 15, "Assomption"), (11, 1, "Toussaint"),
                    (11, 11, "Armistice"), (12, 25, "Noël"),
                )
            ],
            ignore_conflicts=True,
        )
        password = make_password(PASSWORD)
        self.members = []
        self.actors: dict[int, MemberActor] = {}
        for email, first, last, role, share in spec.team:
            user = User.objects.filter(username=email).first()
            if user is None:
                user = User.objects.create(username=email, email=email, first_name=first, last_name=last,
                                           password=password, date_joined=self.clock.t)
            elif not (user.first_name and user.last_name):
                user.first_name, user.last_name = user.first_name or first, user.last_name or last
                user.save(update_fields=["first_name", "last_name"])
            membership, _created = Membership.objects.get_or_create(organization=org, user=user,
                                                                    defaults={"role": role})
            self.actors[user.pk] = MemberActor(membership)
            self.members.append((user, role, share))
        self.manager = next((u for u, r, _s in self.members if r == Role.MANAGER),
                            next(u for u, r, _s in self.members if r == Role.ADMIN))
        AgentNotificationPreference.objects.get_or_create(
            organization=org, user=self.manager, kind="daily_digest", defaults={"in_app": True, "email": True}
        )
        self.workers = [(u, s) for u, r, s in self.members if r != Role.VIEWER and s]
        Tag.objects.bulk_create([Tag(organization=org, name=n) for n in spec.tags], ignore_conflicts=True)

        # CRM: companies and customers, "imported" before the first ticket.
        companies = []
        for name in rng.sample(COMPANIES, spec.companies):
            company = Company.objects.filter(organization=org, name__iexact=name).first()
            companies.append(company or Company.objects.create(organization=org, name=name))
        self.customers = []
        used: set[str] = set()
        for _i in range(spec.customers):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = f"{ascii_slug(first)}.{ascii_slug(last)}"
            while local in used:
                local = f"{ascii_slug(first)}.{ascii_slug(last)}{rng.randint(2, 99)}"
            used.add(local)
            company = rng.choice(companies) if companies and rng.random() < 0.78 else None
            email = f"{local}@{rng.choice(['example.fr', 'example.fr', 'example.com'])}"
            self.clock.t += timedelta(minutes=rng.randint(5, 90))
            customer = get_or_create_customer(organization=org, email=email, name=f"{first} {last}",
                                              company_name=company.name if company else "")
            customer.phone = f"0{rng.choice([1, 2, 3, 4, 5, 6, 7])} " + " ".join(
                f"{rng.randint(0, 99):02d}" for _ in range(4))
            customer.notification_preference = weighted(rng, PREFERENCES)
            if spec.slug == DEMO.slug:
                customer.attributes = {"plan": weighted(rng, CUSTOMER_PLANS)}
            customer.save(update_fields=["phone", "notification_preference", "attributes"])
            self.customers.append(customer)
        # A few customers write often, most once or twice.
        self.customer_weights = [1 / (i + 2) ** 0.8 for i in range(len(self.customers))]

        if spec.with_views:
            for name, body in REPLY_TEMPLATES:
                if not ReplyTemplate.objects.filter(organization=org, name__iexact=name).exists():
                    services.save_reply_template(organization=org, name=name, body=body,
                                                 actor=self._as(self.manager))
            for name, filters in SHARED_VIEWS:
                if not SavedView.objects.filter(organization=org, name__iexact=name).exists():
                    services.save_view(organization=org, name=name, filters=filters, actor=self._as(self.manager))

    # -- planning a ticket ----------------------------------------------------------------------------------

    def _statuses(self) -> list[str]:
        """Exactly the share of each status (largest remainder), in random order."""
        weights, n = self.spec.status_weights, self.spec.tickets
        total = sum(weights.values())
        counts = {s: w * n // total for s, w in weights.items()}
        by_remainder = sorted(weights, key=lambda s: -(weights[s] * n % total))
        for s in by_remainder[: n - sum(counts.values())]:
            counts[s] += 1
        statuses = [s for s, c in counts.items() for _ in range(c)]
        self.rng.shuffle(statuses)
        return statuses

    def _plan_ticket(self, status: str) -> TicketScript:
        rng, spec = self.rng, self.spec
        while True:
            scenario = weighted(rng, [(s, s["weight"]) for s in spec.scenarios])
            if scenario.get("spam") and status not in (Status.CLOSED, Status.NEW):
                continue
            if scenario.get("feature") and status in (Status.WAITING_CUSTOMER, Status.WAITING_INTERNAL):
                continue
            break
        customer = rng.choices(self.customers, weights=self.customer_weights)[0]
        subject, opening = rng.choice(scenario["variants"])
        priority = weighted(rng, scenario["priority"].items())
        if scenario.get("urgent_share") and rng.random() < scenario["urgent_share"]:
            priority = Priority.URGENT
        channel = weighted(rng, CHANNELS)
        assignee = weighted(rng, self.workers)
        assigner = self.manager if rng.random() < 0.6 else assignee
        plan = TicketScript(scenario=scenario, subject=subject, opening=opening, status=status, priority=priority,
                     channel=channel, customer=customer, assignee=assignee, assigner=assigner,
                     variables=self._variables(customer, assignee))
        plan.steps = self._steps(plan)
        return plan

    def _variables(self, customer: Customer, assignee) -> _Vars:
        rng = self.rng
        plan = (customer.attributes or {}).get("plan", "Business")
        price, extra, exports = PLAN_PRICES[plan]
        company = customer.company.name if customer.company_id else ""
        slug = ascii_slug(company or customer.last_name, "-") or "boutique"
        colleagues = [u for u, _s in self.workers if u != assignee]
        return _Vars(
            plan=plan, price=price, extra=extra, exports=exports, amount=price + extra * rng.choice([1, 2, 3]),
            invoice=f"F-2026-{rng.randint(1000, 9999)}",
            vat=f"FR{rng.randint(10, 99)}{rng.randint(100000000, 999999999)}",
            last4=f"{rng.randint(0, 9999):04d}", email=customer.email, company_or_name=company or customer.full_name,
            colleague=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            colleague_agent=rng.choice(colleagues).first_name if colleagues else "l'équipe",
            site=rng.choice(SITES).format(slug=slug), browser=rng.choice(BROWSERS), provider=rng.choice(PROVIDERS),
            support_address=f"support@{slug}.fr", hour=rng.randint(7, 11), hour2=rng.randint(14, 17),
            n=rng.randint(1200, 9800), agents=rng.choice([4, 6, 8, 12, 15, 25]),
            order=f"AN-{rng.randint(10200, 10999)}", tracking=f"6A{rng.randint(10**9, 10**10 - 1)}",
            phone="06 " + " ".join(f"{rng.randint(10, 99)}" for _ in range(4)),
            approver="validation Manager suffisante (moins de 100 EUR)" if price < 100
            else "validation Admin obligatoire (100 EUR ou plus)",
        )

    def _steps(self, plan: TicketScript) -> list[Step]:
        """The conversation leading to the ticket's final status; every rule is applied by the services."""
        rng, sc, status = self.rng, plan.scenario, plan.status
        first_reply = {Priority.URGENT: (5, 25), Priority.HIGH: (15, 120), Priority.NORMAL: (30, 360),
                       Priority.LOW: (60, 1200)}[plan.priority]

        def agent(lo_hi=(20, 480)) -> float:
            return rng.uniform(*lo_hi)

        def customer() -> float:
            return rng.uniform(40, 1800)

        steps: list[Step] = []
        if sc.get("spam"):
            if status == Status.CLOSED:
                steps.append(Step(agent((10, 240)), "status", status=Status.CLOSED))
            return steps

        def triage(assign: bool = True) -> None:
            delay = agent((2, 45))
            if assign:
                steps.append(Step(delay, "assign"))
                delay = 0.2
            if sc["tags"] and rng.random() < 0.9:
                steps.append(Step(delay, "tags"))
            if plan.priority == Priority.NORMAL and sc["key"] in ("widget", "email_intake") and rng.random() < 0.3:
                steps.append(Step(0.5, "priority", value=Priority.HIGH))

        has_ask = bool(sc.get("ask"))
        answer = sc.get("answer") or rng.choice(GENERIC_ANSWERS)

        def ask_flow(then: str = Status.WAITING_CUSTOMER) -> None:
            steps.append(Step(agent(first_reply), "reply", text=sc["ask"] if has_ask else "ack", status=then))

        def solve(then: str = Status.RESOLVED) -> None:
            if sc.get("note") and rng.random() < 0.3:
                steps.append(Step(agent((10, 240)), "note", text=sc["note"]))
            steps.append(Step(agent((20, 600)), "reply", text=sc["solution"], status=then))

        if status == Status.NEW:
            if rng.random() < 0.2:
                triage()
            if rng.random() < 0.3:
                steps.append(Step(customer(), "customer", text=rng.choice(CUSTOMER_NUDGES)))
            if rng.random() < 0.15:
                steps.append(Step(agent((5, 60)), "note", text=sc.get("note") or rng.choice(GENERIC_NOTES)))
        elif status == Status.OPEN:
            triage(assign=rng.random() > 0.15)  # a few stay unassigned
            variant = rng.random()
            if variant < 0.45 or (sc.get("feature") and not has_ask):
                steps.append(Step(agent(first_reply), "reply", text="ack"))
                if rng.random() < 0.5:
                    steps.append(Step(customer(), "customer", text=answer))
                if rng.random() < 0.4:
                    steps.append(Step(agent((10, 240)), "note", text=sc.get("note") or rng.choice(GENERIC_NOTES)))
            elif variant < 0.75 and has_ask:
                ask_flow()
                steps.append(Step(customer(), "customer", text=answer))  # reopens: waiting_customer -> open
                if rng.random() < 0.4:
                    steps.append(Step(agent((10, 120)), "reply", text=ANSWER_ACK))
            elif not sc.get("feature"):
                steps.append(Step(agent(first_reply), "reply", text=sc["solution"], status=Status.RESOLVED))
                reopen = CUSTOMER_MORE.get((sc["tags"] or [""])[0], CUSTOMER_MORE[""])
                steps.append(Step(customer(), "customer", text=rng.choice(reopen)))  # reopens
                steps.append(Step(agent((10, 180)), "note", text=rng.choice(REOPEN_NOTES)))
        elif status == Status.WAITING_CUSTOMER:
            triage()
            if rng.random() < 0.35:
                steps.append(Step(agent(first_reply), "reply", text="ack"))
                if rng.random() < 0.5:
                    steps.append(Step(agent((10, 120)), "note", text=sc.get("note") or rng.choice(GENERIC_NOTES)))
                steps.append(Step(agent((60, 600)), "reply", text=sc["ask"] if has_ask else "ask_template",
                                  status=Status.WAITING_CUSTOMER))
            else:
                ask_flow()
        elif status == Status.WAITING_INTERNAL:
            triage()
            if rng.random() < 0.4 and has_ask:
                ask_flow()
                steps.append(Step(customer(), "customer", text=answer))
            steps.append(Step(agent((10, 240)), "note",
                              text=sc.get("escalate_note") or "Escaladé à l'équipe technique pour analyse."))
            steps.append(Step(agent((2, 30)), "reply", status=Status.WAITING_INTERNAL,
                              text=sc.get("escalate_reply") or "J'ai transmis votre demande à l'équipe concernée. "
                              "Je reviens vers vous dès que j'ai leur retour."))
            if rng.random() < 0.25:
                steps.append(Step(customer(), "customer", text=rng.choice(CUSTOMER_NUDGES)))
        elif status == Status.RESOLVED:
            triage()
            if has_ask and rng.random() < 0.5:
                ask_flow()
                steps.append(Step(customer(), "customer", text=answer))
            solve()
        elif status == Status.CLOSED:
            triage()
            variant = rng.random()
            if variant < 0.2 and has_ask:  # no answer: follow-up, then closed (support guide 002)
                ask_flow()
                steps.append(Step(3 * 1440 + agent((0, 120)), "reply", text=FOLLOWUP_REPLY))
                steps.append(Step(4 * 1440 + agent((0, 120)), "reply", text="close_template", status=Status.CLOSED))
            else:
                if has_ask and rng.random() < 0.45:
                    ask_flow()
                    steps.append(Step(customer(), "customer", text=answer))
                solve()
                if rng.random() < 0.45 and not sc.get("feature"):
                    steps.append(Step(customer(), "customer", text=rng.choice(CUSTOMER_THANKS)))  # reopens
                    steps.append(Step(agent((5, 120)), "status", status=Status.CLOSED))
                else:  # closed by the lifecycle, 7 days after resolution
                    days = self.org.auto_close_resolved_days
                    steps.append(Step(days * 1440 + rng.uniform(1, 10), "status", status=Status.CLOSED, system=True))
        return steps

    def _schedule(self, plan: TicketScript) -> None:
        """Place the ticket in time so that its final status is consistent at the anchor date."""
        rng, anchor = self.rng, self.anchor
        total = timedelta(minutes=sum(s.minutes for s in plan.steps))
        hours = {
            Status.NEW: (0.2, 60) if rng.random() > 0.15 else (72, 288),
            Status.OPEN: (0.5, 190),
            Status.WAITING_CUSTOMER: (1, 68),  # before the first follow-up (3 days)
            Status.WAITING_INTERNAL: (1, 210),
            Status.RESOLVED: (1, 155),  # before the auto-close (7 days)
            Status.CLOSED: (24, self.spec.days * 24),
        }[plan.status]
        end_lo, end_hi = anchor - timedelta(hours=hours[1]), anchor - timedelta(hours=hours[0])
        lo, hi = end_lo - total, end_hi - total
        floor = anchor - timedelta(days=self.spec.days)
        lo = max(lo, floor)
        if hi < lo:
            hi = lo
        start = lo + (hi - lo) * rng.random()
        # Customers mostly write during the day (Paris time).
        local = start.astimezone(PARIS)
        if not 8 <= local.hour < 20:
            day = local.replace(hour=rng.randint(8, 19), minute=rng.randint(0, 59))
            for candidate in (day, day - timedelta(days=1)):
                c = candidate.astimezone(UTC)
                if lo <= c <= hi:
                    start = c
                    break
        plan.start = start.replace(microsecond=0) + timedelta(seconds=rng.randint(0, 59))

    # -- playing it through the services -------------------------------------------------------------------

    def _play(self, plan: TicketScript) -> Ticket:
        rng, org, clock = self.rng, self.org, self.clock
        clock.t = plan.start
        customer = plan.customer
        v = plan.variables
        v.update(_dates(plan.start))
        subject = plan.subject.format_map(v)
        v["subject"] = subject
        actor = self._as(plan.assignee if plan.channel == Channel.MANUAL else None)
        tags = plan.scenario["tags"] if plan.channel in (Channel.FORM, Channel.API) and rng.random() < 0.5 else ()
        ticket = services.create_ticket(
            organization=org, customer=customer, subject=subject,
            body=self._customer_text(plan.opening.format_map(v), customer, plan.channel),
            channel=plan.channel, priority=plan.priority, actor=actor, tags=tags, created_at=clock.t,
        )
        for step in plan.steps:
            clock.t = clock.t + timedelta(minutes=step.minutes)
            author = plan.assignee
            if step.op == "assign":
                ticket = services.assign(ticket=ticket, assignee=plan.assignee, actor=self._as(plan.assigner))
            elif step.op == "tags":
                ticket = services.set_tags(ticket=ticket, names=plan.scenario["tags"], actor=self._as(author))
            elif step.op == "priority":
                ticket = services.set_priority(ticket=ticket, priority=step.value, actor=self._as(author))
            elif step.op == "customer":
                services.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, created_at=clock.t,
                                     body=self._customer_text(step.text.format_map(v), customer, plan.channel))
            elif step.op == "note":
                services.add_message(ticket=ticket, kind=MessageKind.NOTE, actor=self._as(author),
                                     body=step.text.format_map(v), created_at=clock.t)
            elif step.op == "reply":
                body = self._agent_text(step.text, ticket, author, v)
                services.add_message(ticket=ticket, kind=MessageKind.REPLY, actor=self._as(author), body=body,
                                     then_status=step.status or None, created_at=clock.t)
            elif step.op == "status":
                services.change_status(ticket=ticket, status=step.status,
                                       actor=self._as(None if step.system else author),
                                       reason="auto_close_resolved" if step.system else "manual")
            ticket.refresh_from_db()
        if ticket.status != plan.status:  # the services decide; the script must agree with them
            raise CommandError(f"ticket #{ticket.number}: scripted {plan.status}, got {ticket.status}")
        return ticket

    def _customer_text(self, body: str, customer: Customer, channel: str) -> str:
        if channel == Channel.CHAT:
            return body
        closing = self.rng.choice(["Cordialement,", "Merci d'avance,", "Bonne journée,", "Bien à vous,"])
        signature = customer.full_name
        if customer.company_id:
            signature += f"\n{customer.company.name}"
        return f"Bonjour,\n\n{body}\n\n{closing}\n{signature}"

    def _as(self, user) -> MemberActor | SystemActor:
        """The member acting in the script (the system when nobody is named)."""
        return SEED_ACTOR if user is None else self.actors[user.pk]

    def _agent_text(self, key: str, ticket: Ticket, agent, v: _Vars) -> str:
        templates = {name: body for name, body in REPLY_TEMPLATES}
        if key == "ack":
            return render_reply_template(templates["Réponse initiale"], ticket=ticket, agent=agent).replace(
                "Équipe support LumioDesk", self.spec.signature)
        if key == "ask_template":
            return render_reply_template(templates["Demande d'informations"], ticket=ticket, agent=agent)
        if key == "close_template":
            return render_reply_template(templates["Fermeture sans réponse"], ticket=ticket, agent=agent)
        signoff = self.rng.choice(["Cordialement,", "Bien cordialement,", "Belle journée,",
                                   "Je reste à votre disposition.\n\nCordialement,"])
        first = ticket.customer.first_name or ticket.customer.display_name
        return f"Bonjour {first},\n\n{key.format_map(v)}\n\n{signoff}\n{agent.first_name}\n{self.spec.signature}"

    def _satisfaction_ratings(self, tickets: list[Ticket]) -> None:
        """About 60 % of resolved and closed tickets rated (1-5 stars, a few comments), a few hours after
        resolution, through the rating service (stored against the assignee). Own random stream: the rest
        of the demo stays the same."""
        from tickets.portal.satisfaction import rate_ticket

        rng = random.Random(f"{SEED}-{self.spec.slug}-csat")
        comments = {
            5: ["Réponse rapide et claire, merci !", "Parfait, problème réglé.", ""],
            4: ["Bien, merci.", "Solution efficace, un peu d'attente au début.", ""],
            3: ["Correct, mais il a fallu relancer.", ""],
            2: ["Trop long à obtenir une réponse.", ""],
            1: ["Le problème n'est pas vraiment réglé.", ""],
        }
        for ticket in tickets:
            if ticket.status not in (Status.RESOLVED, Status.CLOSED) or ticket.resolved_at is None:
                continue
            if rng.random() >= 0.6:
                continue
            at = min(ticket.resolved_at + timedelta(minutes=rng.randint(30, 2 * 1440)), self.anchor)
            if at <= ticket.resolved_at:
                continue
            score = weighted(rng, [(5, 45), (4, 30), (3, 13), (2, 7), (1, 5)])
            self.clock.t = at
            rate_ticket(ticket=ticket, customer=ticket.customer, score=score, comment=rng.choice(comments[score]),
                        now=at)

    def _date_notifications(self) -> None:
        """Notification rows take their default time from the real clock: date them, mark them as sent/read."""
        if not self.notifications:
            return
        rows = [(pk, at) for pk, at in self.notifications]
        read = {pk for pk, _at in rows if self.rng.random() < 0.6}
        values = ", ".join(["(%s, %s::timestamptz, %s)"] * len(rows))
        params: list = []
        for pk, at in rows:
            params += [pk, at, pk in read]
        with connection.cursor() as cur:
            cur.execute(
                f"""UPDATE tickets_customernotification n SET created_at = v.at,
                        emailed_at = CASE WHEN n.email THEN v.at + interval '1 minute' END,
                        read_at = CASE WHEN n.web AND v.read THEN v.at + interval '3 hours' END
                    FROM (VALUES {values}) AS v(id, at, read) WHERE n.id = v.id""",
                params,
            )

    def _summary(self) -> str:
        org = Organization.objects.get(pk=self.org.pk)
        tickets = Ticket.objects.filter(organization=org)
        by = {f: Counter(tickets.values_list(f, flat=True)) for f in ("status", "priority", "channel")}
        messages = Counter(Message.objects.filter(organization=org).values_list("kind", flat=True))
        fmt = lambda c: ", ".join(f"{k} {n}" for k, n in sorted(c.items(), key=lambda kv: -kv[1]))  # noqa: E731
        return (
            f"{org.name} ({org.slug}, {org.plan}): {len(self.members)} members, "
            f"{Company.objects.filter(organization=org).count()} companies, "
            f"{Customer.objects.filter(organization=org).count()} customers, {tickets.count()} tickets "
            f"(#1-#{org.last_ticket_number})\n"
            f"  status: {fmt(by['status'])}\n  priority: {fmt(by['priority'])}\n  channel: {fmt(by['channel'])}\n"
            f"  messages: {sum(messages.values())} ({fmt(messages)}), notifications: "
            f"{CustomerNotification.objects.filter(organization=org).count()}"
        )

