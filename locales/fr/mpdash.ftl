# Les mots de mpdash en français. Chaque message a son jumeau dans
# locales/en/mpdash.ftl, avec les mêmes variables (un test vérifie les deux).
# Typographie : on écrit une espace ordinaire avant « : ; ? ! » et à
# l'intérieur des guillemets ; l'affichage en fait une espace insécable
# (src/i18n), pour qu'aucune ligne ne commence par un deux-points.
# Les espaces en début et en fin de ligne sont celles du code, jamais du message.
# Les noms de l'API Python (get, put, acquire, join, Queue, Lock…) restent
# tels qu'on les écrit dans le programme.

## Touches : la barre d'aide et l'aide « ? » (src/app/keys.rs)

hint-quit = quitter
help-quit = Quitter : une question d'abord si une exécution est en cours (ses processus sont tués et le terminal est rétabli) ; Ctrl-C quitte sans demander. Échap ne quitte jamais : il ferme ou annule seulement.
hint-rerun = relancer
help-rerun = Tuer l'exécution en cours et relancer le scénario.
hint-method = méthode → { $method }
help-method = Passer à la méthode de démarrage suivante (fork → spawn → forkserver) et relancer.
hint-tab = onglets
help-tab = Onglet suivant : Direct, Comparer (toutes les exécutions terminées côte à côte), Échelle, Journal.
help-tab-live = Onglet Direct : l'exécution en cours.
help-tab-compare = Onglet Comparer : latence de démarrage, mémoire et durée de chaque exécution terminée.
help-tab-scaling = Onglet Échelle : l'accélération en fonction du nombre de workers, lors de la dernière mesure.
help-tab-log = Onglet Journal : démarrages, fins avec leur signal, morts, pertes et reprises.
hint-scaling = mesurer
help-scaling = Mesurer le passage à l'échelle (scénarios avec [scaling]) : processus, threads sous un GIL simulé, threads libres.
hint-kill = tuer
help-kill = Envoyer SIGKILL au processus choisi (demande y/n) : regardez le pool le remplacer, un verrou passer au suivant.
help-stop = Envoyer SIGSTOP au processus choisi (arrêtez un consommateur et regardez sa file se remplir).
help-cont = Envoyer SIGCONT au processus choisi.
help-yes = Répondre oui à une question (tuer ce processus ? quitter pendant l'exécution ?).
help-no = Répondre non à une question (toute autre touche que y aussi, et le dit).
help-down = Choisir le processus suivant (dans l'onglet Journal : descendre).
help-up = Choisir le processus précédent (dans l'onglet Journal : remonter).
help-page-down = Une page plus bas dans la liste (processus, Journal, sélecteur).
help-page-up = Une page plus haut dans la liste.
help-home = Le haut de la liste (l'entrée la plus ancienne du Journal).
help-end = Le bas de la liste (l'entrée la plus récente du Journal).
hint-back = reculer
help-back = Reculer d'un échantillon dans l'exécution (l'affichage se fige ; l'exécution continue) : chaque panneau montre cet instant — arbre, CPU, files, verrous, attentes, sortie.
help-forward = Avancer d'un échantillon ; après le plus récent, retour au direct.
help-enter = Replier ou déplier les enfants du processus choisi ; dans l'onglet Comparer, montrer les exécutions du scénario suivant (le scénario courant d'abord).
hint-filter = filtrer
help-filter = Filtrer les processus par nom ou par pid, ou, dans l'onglet Journal, ses entrées par texte (Entrée garde le filtre, Échap l'efface).
help-sort = Trier les processus frères par CPU, RSS, PID, nom ou ordre de démarrage (à tour de rôle ; l'en-tête de colonne l'indique).
help-reverse = Inverser l'ordre du tri.
help-hide-ended = Masquer ou montrer les processus terminés (un processus vivant sous un processus terminé reste affiché).
hint-freeze = figer
help-freeze = Figer l'affichage pendant que l'exécution continue (puis ← → pour s'y déplacer) ; encore une fois pour revenir au présent.
hint-zoom = zoom
help-zoom = Donner tout l'écran à un panneau : dans Direct, les processus, le pool ou les ressources, la sortie, l'explication, puis retour ; dans Échelle, la mesure (sans l'arbre) ; dans Comparer, le tableau.
help-faster = Échantillonner plus souvent (jusqu'à 30 Hz).
help-slower = Échantillonner moins souvent (jusqu'à 0,5 Hz).
help-more-workers = Un worker de plus dans le pool à la prochaine exécution (r relance tout de suite).
help-fewer-workers = Un worker de moins dans le pool à la prochaine exécution.
hint-open = ouvrir
help-open = Ouvrir un autre scénario ou programme Python de scenarios/ (une liste avec le titre de chacun).
hint-waits = attentes
help-waits = Qui attend qui : pour chaque processus bloqué, sa chaîne d'attentes, en phrases, jusqu'à ce qui pourrait y mettre fin (ou pourquoi rien ne le peut).
hint-help = aide
help-help = Montrer ou masquer cette aide.
key-space = espace
key-enter = Entrée
key-page-down = PgSuiv
key-page-up = PgPréc
key-home = Début/g
key-end = Fin/G

## Fenêtres : aide, qui attend qui, choix d'un scénario (src/ui/help.rs)

help-title = Touches
help-note = CPU% : pourcentage d'un cœur, lu dans /proc/<pid>/stat ; DÉMARRAGE : de la demande à la première instruction. Souris : cliquez sur une ligne ou un onglet.
help-scroll = lignes { $first } à { $last } sur { $total } · ↑/↓ PgPréc/PgSuiv pour défiler · Échap pour fermer
waits-title = Qui attend qui
waits-close = w ou Échap pour fermer
waits-nobody-blocked = Personne n'est bloqué : chaque processus vivant calcule, dort ou s'exécute.
picker-title = Ouvrir un scénario
picker-empty = aucun fichier de scénario dans scenarios/
picker-keys = ↑/↓ choisir · Entrée ouvrir (vérifié d'abord ; l'exécution en cours est remplacée) · Échap fermer

## Panneaux de texte et barre d'aide (src/ui/text_panels.rs)

output-title = Sortie
output-earlier = ↑ { $n } { $n ->
    [one] ligne
   *[other] lignes
} avant (z)
explain-title = À observer
explain-more = ↓ encore { $n ->
    [one] { $n } ligne
   *[other] { $n } lignes
} (z)
filter-label = filtre :
filter-keys = Entrée garder · Échap effacer

## Attentes et diagnostics (src/telemetry/waits.rs) : une attente telle
## qu'on la lit dans le tableau, le bandeau rouge et « w »

wait-at = { $what } à { $at }
at-place = à { $at }
wait-get = get { $res } (vide)
wait-put = put { $res } (pleine)
wait-join-queue = join { $res } (éléments non traités)
wait-recv = recv { $res }
wait-acquire = acquire { $res }
wait-acquire-held = acquire { $res } (tenu par { $holder })
wait-condition = wait { $res } (attend un notify)
wait-event = wait { $res } (attend un set)
wait-barrier = barrière { $res }
wait-barrier-count = barrière { $res } { $arrived }/{ $parties }
wait-join = join { $name }
pool-tasks-left = pool : reste { $n } { $n ->
    [one] tâche
   *[other] tâches
}
wait-manager = un appel au Manager (bloqué)
wait-flush = fin : vidage de { $res } dans son tube
wait-flush-unread = fin : vidage de { $res } ({ $n } { $n ->
    [one] non lu
   *[other] non lus
}) dans son tube
stuck-how-locks = chacun tient ce que le suivant attend (verrous pris dans des ordres opposés)
stuck-how-joins = chacun attend la fin du suivant (join)
stuck-deadlock = Interblocage : { $cycle } : { $how }.
gone-died = { $name } est mort ({ $signal })
gone-exited = { $name } s'est terminé avec le code { $code }
gone-ended = { $name } s'est terminé
gone-never-started = { $name } n'a jamais démarré
stuck-its-queue = sa file
stuck-join-before-get = Bloqué : { $child } ne peut pas se terminer tant que le thread d'alimentation (feeder) de la Queue { $queue } n'a pas écrit dans le tube ce qu'il y a déposé, et personne ne le lit : { $parent } fait join sur { $child }{ $at } avant de faire get sur { $queue }. Récupérez les éléments avant join() (« Joining processes that use queues » dans la documentation de multiprocessing).
stuck-flush-chain = { $child } → { $flush } → personne ne peut le lire : { $parent } attend la fin de { $child }
stuck-every-waits = tous les processus vivants attendent
stuck-every-waits-gone = tous les processus vivants attendent ; { $gone }
stuck-waits-to = { $name } est bloqué sur { $what }
stuck-nobody-can-serve = Bloqué : { $doing }, et personne ne peut les servir ({ $why }).
serve-nobody = personne ne peut { $verb } : { $why }
serve-can = { $n ->
    [one] peut
   *[other] peuvent
} { $verb } : { $names }
graph-runs = { $name } s'exécute
graph-cycle = un cycle : interblocage
graph-timeout = l'attente finira d'elle-même (délai)
serve-put = déposer (put)
serve-get = retirer (get)
serve-task-done = appeler task_done
serve-send = envoyer (send)
serve-release = le libérer (release)
serve-notify = notifier (notify)
serve-set = le positionner (set)
serve-arrive = arriver
serve-end = se terminer
serve-run-tasks = exécuter les tâches
serve-answer = répondre
serve-read = le lire

## Le bandeau rouge (src/ui/stuck_banner.rs)

banner-deadlock = INTERBLOCAGE
banner-stuck = BLOQUÉ
banner-lost-task = TÂCHE PERDUE
banner-keys = l'exécution n'avancera plus jamais · k tue, r relance, q quitte
banner-keys-attached = le programme ne bougera plus jamais · q se détache (rien n’est tué)
banner-proven-at = prouvé à { $secs } s
banner-raised = { $name } a levé { $error }
banner-more = … et { $n } de plus (onglet Journal)
no-progress = aucune avancée depuis { $secs } s : { $waits } — rien ne prouve un blocage, cela peut encore finir : { $escapes }
escape-handler = un gestionnaire de { $signals } (une alarme peut être en attente)
escape-thread = son thread { $name }, qui n'attend pas l'arbre
escape-main-thread = son thread principal, qui n'attend pas l'arbre
escape-listener = un client hors de l'arbre ({ $name } écoute sur le port TCP { $port })

## L'onglet Journal (src/ui/log_panel.rs, src/app/event_log.rs)

log-title = Journal
log-filter = filtre /{ $filter }
log-newer = ↓ { $n } { $n ->
    [one] plus récente
   *[other] plus récentes
} (Fin)
log-times = horloge de l'exécution, lue à l'échantillon
log-started = { $name } a démarré (pid { $pid }, { $method }) en { $latency }
log-exit = { $name } (pid { $pid }) { $how }
log-ended-reaped = s'est terminé (son parent l'a récupéré ; lui seul connaît son code de sortie)
log-killed-by = tué par { $signal }
log-exited = s'est terminé avec le code { $code }
log-owner-died = { $name } : son détenteur { $holder } est mort en le tenant ; le suivant à faire acquire l'a obtenu
log-lost = { $name } : { $put } { $put ->
    [one] message perdu
   *[other] messages perdus
} avec un producteur mort, { $get } avec un consommateur mort
log-barrier-broken = { $name } : la barrière est rompue
log-pool-replaced = pool : { $n } { $n ->
    [one] worker est mort et a été remplacé
   *[other] workers sont morts et ont été remplacés
} ; tâches relancées jusqu'ici : { $retried }

## Le panneau Pool (src/ui/pool_panel.rs)

pool-title = Pool
pool-none = pas encore de pool
pool-done-label = finies
pool-queue-label = file
pool-deaths = workers morts : { $died } · tâches perdues : { $lost } · relancées : { $retried }
pool-retired = { $n } { $n ->
    [one] retiré
   *[other] retirés
} (maxtasksperchild)
pool-failed = { $n } { $n ->
    [one] tâche en échec
   *[other] tâches en échec
}
pool-counts = déposées { $queued } · prises { $taken } · résultats { $results }
pool-idle = libre
# Les tâches finies par un worker, après leur nombre.
pool-worker-done = { $n ->
    [one] finie
   *[other] finies
}

## L'onglet Comparer (src/ui/compare_panel.rs)

compare-title = Comparer
compare-empty = Aucune exécution terminée pour l'instant. Chaque exécution qui se termine est gardée ici : appuyez sur m pour lancer le scénario avec la méthode de démarrage suivante, sur r pour le relancer.
compare-col-run = N°
compare-col-method = MÉTHODE
compare-col-workers = WORKERS
compare-col-wall = DURÉE
compare-col-start-p50 = DÉM. p50
compare-col-start-p99 = DÉM. p99
compare-col-all-ready = PRÊTS
compare-col-helpers = ANNEXES
compare-col-cpu = CPU s
compare-col-exit = CODE
compare-col-note = REMARQUE
compare-runs-of = { $n } { $n ->
    [one] exécution
   *[other] exécutions
} de { $title }
compare-last-shown = (les { $n } dernières affichées)
compare-others = { $n } d'autres scénarios (Entrée)
compare-legend = DÉM. = de la demande à la première instruction · PSS/RSS = pic des workers
compare-chart-start = Latence de démarrage p50 (µs)
compare-chart-pss = PSS des workers (MiB)
compare-failed = échec
compare-killed = { $n ->
    [one] { $n } worker tué
   *[other] { $n } workers tués
}

## Ressources partagées (src/ui/resource_panel.rs). QUEUE, LOCK, EVENT…
## sont les noms des classes de multiprocessing, tels que le programme les écrit.

res-title = Ressources partagées
res-none = pas encore de ressource partagée
res-foreign = un programme extérieur : pas de panneau file, verrou ou pool (mpdash les lit dans ses propres primitives)
res-manager = serveur pid { $pid } · { $clients } { $clients ->
    [one] client
   *[other] clients
} · { $objects } { $objects ->
    [one] objet
   *[other] objets
}
res-manager-tcp = port tcp { $port }
res-manager-refused = { $n } { $n ->
    [one] refusé
   *[other] refusés
}
res-queue-rates = put { $put }/s get { $get }/s
res-queue-waiting = en attente pour { $who }
res-queue-op = { $op } : { $who }
res-queue-lost = { $n } { $n ->
    [one] perdu
   *[other] perdus
} (producteur mort { $put }, consommateur mort { $get })
res-nobody-waiting = personne n'attend
res-n-waiting = { $n } en attente
res-waiting = en attente : { $names }
res-waiting-some = en attente : { $names }, … ({ $n } en tout)
res-held-by = tenu par { $name }
res-held-for = depuis { $time }
res-free = libre
res-lock-stats = { $n } { $n ->
    [one] acquisition
   *[other] acquisitions
}, { $pct } % avec attente
res-owner-died = détenteur mort ×{ $n } (dernier : { $last })
res-sem-value = valeur { $value }
res-acquired = { $n } { $n ->
    [one] acquisition
   *[other] acquisitions
}
res-event-set = positionné
res-event-clear = effacé
res-barrier = { $arrived } arrivés · franchie { $passes } fois
res-barrier-broken = ROMPUE
res-pipe-one-way = (sens unique)
res-value-with-lock = avec verrou
res-calls = { $n } { $n ->
    [one] appel
   *[other] appels
}
res-calls-word = { $n ->
    [one] appel
   *[other] appels
}
res-mean = moyenne { $time }

## « À observer » pour un programme que mpdash n'a pas écrit (src/session/command.rs)

explain-attached = Un programme déjà en cours d'exécution, que mpdash n'a pas lancé : le processus { $pid } (`{ $cmd }`) et tous les processus en dessous, trouvés dans /proc à mesure qu'ils démarrent et se terminent : CPU, mémoire, parents, états. Les processus Python sont lus de l'extérieur avec py-spy, sans jamais être mis en pause : le panneau PILE montre les threads et les frames du processus choisi (la ligne du programme lui-même est marquée), OÙ dit où chacun en est ou ce qu'il attend. Quitter détache : rien n'est arrêté ni tué. r se rattache.
explain-python = Un programme CPython, lancé comme racine de cette exécution : `{ $cmd }`, avec la sonde de mpdash (un sitecustomize.py dans un répertoire privé placé sur PYTHONPATH, pour cette exécution seulement). Les processus portent les noms et les rôles que Python leur donne ; les Queue, Lock, RLock, Semaphore, Event et Barrier créés par le programme apparaissent sous les noms qu'il leur a donnés, avec les put et les get, les détenteurs et ceux qui attendent ; EN ATTENTE DE dit sur quoi chaque processus est bloqué, et à quelle ligne. Quand le programme ne peut plus jamais avancer (deux verrous pris dans des ordres opposés, un join avant qu'une file soit vidée, une barrière à qui il manque un participant), le bandeau rouge dit pourquoi au lieu de rester bloqué. r le relance.
explain-foreign = Un programme extérieur, lancé comme racine de cette exécution : `{ $cmd }`. mpdash trouve ses processus dans /proc (son groupe de processus et les descendants de la racine) et montre CPU, RSS, PID et parents, états et codes de sortie ; quand il se termine ou que vous quittez, tout ce qu'il laisse derrière lui est tué, comme pour un scénario. Il n'y a pas de panneau file, verrou ou pool : mpdash les lit dans ses propres primitives, qu'un programme extérieur n'utilise pas (un programme Python est sondé, sauf avec --no-probe). r relance la commande.
explain-python-tail = Lancé comme `{ $cmd }`, avec la sonde de mpdash : les processus sous les noms et les rôles que leur donne Python, les objets du programme sous les noms qu'il leur a donnés, EN ATTENTE DE avec la ligne, et la raison quand il ne peut plus jamais avancer.

## L'en-tête (src/ui/header.rs) et les onglets (src/app/mod.rs)

tab-live = Direct
tab-compare = Comparer
tab-scaling = Échelle
tab-log = Journal
status-starting = démarrage
status-running = en cours { $time }
status-ended = terminée après { $time }
status-finished = terminée en { $time }
status-failed = échec (code { $code }) après { $time }
status-cannot-start = impossible de démarrer : { $error }
header-run = exécution { $run }
header-at = À { $secs } s
header-rate = { $hz } Hz · { $cpus } CPU
header-rate-ended = à la fin · { $cpus } CPU
header-mem = mém. { $used } / { $total }
slider-keys = ← → pas à pas · espace : présent
slider-at = à { $secs } s

## Avis de la barre d'aide et lignes propres au Journal (src/app/mod.rs, src/app/update.rs)

notice-select-first = choisissez d'abord un processus en cours de cette exécution (↑/↓)
notice-replay = une relecture de { $file } : rien ne s'exécute (← → pour la parcourir, q pour quitter)
notice-attached-no-choice = rattaché à un programme en cours : pas de méthode de démarrage, de mesure ni de scénario à choisir (r se rattache)
notice-foreign-no-choice = observation d'une commande extérieure : pas de méthode de démarrage, de mesure ni de scénario à choisir (r la relance)
notice-quit-ask = quitter et tuer les processus de l'exécution ? y / n
notice-no-samples = pas encore d'échantillons à parcourir dans cette exécution
notice-newest = c'est l'instant le plus récent (← recule)
notice-back-to-live = retour au direct
notice-at = à { $secs } s, échantillon { $sample } (← → pas à pas, espace : retour au présent)
notice-kill-ask = SIGKILL à { $name } (pid { $pid }) ? y / n
notice-stopped = { $name } (pid { $pid }) arrêté
notice-continued = { $name } (pid { $pid }) repris
notice-kill-sent = SIGKILL envoyé à { $name } (pid { $pid })
notice-not-killed = { $name } n'a pas été tué : seul y confirme
notice-not-quitting = on ne quitte pas : seul y confirme
notice-log-whole-screen = le Journal a déjà tout l'écran
notice-sorted = processus triés par { $key }
notice-sorted-reversed = processus triés par { $key }, ordre inversé
notice-ended-hidden = processus terminés masqués (h les montre)
notice-ended-shown = processus terminés affichés
notice-compare-group = Comparer : exécutions de { $title }
notice-frozen = figé : ← → pour parcourir l'exécution, espace : retour au présent
notice-rate = échantillonnage à { $hz } Hz
notice-no-scaling = ce scénario n'a pas de table [scaling] (essayez scenarios/scaling.toml)
notice-no-pool = ce scénario n'a pas de pool : +/- règlent le nombre de workers du pool
notice-workers = { $n } { $n ->
    [one] worker
   *[other] workers
} dans le pool à la prochaine exécution (r pour relancer tout de suite)
sort-start = ordre de démarrage
sort-name = nom
log-attached-ended = le programme rattaché s'est terminé après { $secs } s (son code de sortie est allé à son propre parent)
log-run-finished = l'exécution { $run } s'est terminée après { $secs } s
log-run-failed = l'exécution { $run } a échoué (code { $code }) après { $secs } s
log-run-stopped = l'exécution { $run } a été arrêtée avant sa fin (ses processus tués pour la suivante)

## Le tableau des processus (src/ui/process_panel.rs)

procs-title = Processus
procs-ended-hidden = { $n } { $n ->
    [one] terminé masqué
   *[other] terminés masqués
} (h)
procs-more = ↓ { $n } de plus
procs-threads-folded = threads repliés (écran court)
procs-note-cpu = CPU% = pourcentage d'un cœur
procs-note-start = DÉMARRAGE = de la demande à la première instruction
col-pid = PID
col-os-ppid = PPID OS
col-parent = PARENT
col-name = NOM
col-method = MÉTHODE
col-state = ÉTAT
col-history = HISTORIQUE
col-start = DÉMARRAGE
# L'en-tête dit ce que compte le nombre entre parenthèses.
col-task = TÂCHE (FINIES)
col-waiting-on = EN ATTENTE DE
col-where = OÙ
state-exited = terminé { $code }
state-ended = terminé
state-killed = tué { $signal }
state-starting = démarrage
state-running = actif
state-sleeping = endormi
state-stopped = suspendu
state-zombie = zombie
state-zombie-exited = zombie code { $code }
state-zombie-killed = zombie { $signal }
state-pool-stopped = arrêté par son pool
state-thread = thread
task-current = #{ $task } ({ $done })
task-done = ({ $done })

## Le panneau PILE (src/ui/stack_panel.rs, src/telemetry/stacks/view.rs)
## et le diagnostic que `mpdash attach` prouve à partir des piles
## (src/telemetry/stacks/verdict.rs ; son --json et son texte headless restent en anglais)

stack-title = Pile
stack-how = les piles sont lues de l'extérieur toutes les demi-secondes ; choisissez un processus Python
stack-not-recorded = aucune pile n'a été enregistrée pour ce processus
stack-no-thread = aucun thread Python
stack-running = actif
stack-idle = inactif
stack-waits = attend :
stack-outer-frames = { $n ->
    [one] { $n } appel englobant
   *[other] { $n } appels englobants
}
stack-with-timeout = avec un délai (timeout)
stack-not-python = pas un processus Python
stack-refused = refusé : { $why } ; solution : lancez mpdash sous le même utilisateur que le programme (et, sous Yama, `sudo sysctl kernel.yama.ptrace_scope=0`), ou en root / avec CAP_SYS_PTRACE (`sudo setcap cap_sys_ptrace+ep $(which mpdash)`) ; dans un conteneur, ajoutez --cap-add SYS_PTRACE
stack-unreadable = piles Python illisibles : { $why }
op-queue-feeder = alimentation de la file
op-pool-result = résultat du pool
op-manager-call = appel au Manager
op-wait-for-child = attente d'un enfant
attach-pool-worker-idle = un worker du pool qui attend sa prochaine tâche
attach-library-thread = un thread de la bibliothèque, ou à la sortie
attach-deadlock = interblocage : { $n } processus tiennent chacun un verrou que le suivant attend
attach-cycle-step = { $name } → verrou { $lock } → { $holder }
attach-waits-for-lock = { $name } attend à { $at } le verrou { $lock }, tenu par { $holder }
attach-nobody-can-serve = personne ne peut servir : chaque processus attend depuis { $secs } s et l'arbre n'a utilisé aucun CPU
attach-waits = { $name } attend : { $what }

## Titres de ce que mpdash n'a pas écrit (src/session/command.rs), avis
## propres au tableau de bord (src/cli/dashboard.rs) et ligne d'exécution du Journal

title-attached = rattaché à { $pid } : { $cmd }
title-python = python : { $cmd }
title-foreign = commande : { $cmd }
notice-replay-keys = relecture de { $file } : ← → pour parcourir l'exécution, q pour quitter
notice-run-saved = exécution enregistrée dans { $file } (mpdash replay { $file })
picker-error = ✗ ligne { $line } : { $message }
log-run-header = ── exécution { $run } de { $title } avec { $method } ──

## L'onglet Échelle (src/ui/scaling_panel.rs) ; les noms des courbes sont ceux de la mesure

scaling-title = Échelle
scaling-subtitle = accélération selon le nombre de workers · la courbe GIL est simulée
scaling-none-yet = Pas encore de mesure : appuyez sur x pour lancer le même travail de calcul avec 1…N workers, en processus, en threads partageant un GIL simulé, et en threads libres.
scaling-no-table = Ce scénario n'a pas de table [scaling] : ouvrez scenarios/scaling.toml et appuyez sur x.
scaling-ideal-long = idéal (min des workers et des cœurs)
scaling-ideal = idéal
scaling-cores = { $n ->
    [one] { $n } cœur
   *[other] { $n } cœurs
}
scaling-busy-machine = la machine était chargée : d'autres processus ont utilisé jusqu'à { $worst } % d'un cœur pendant { $n } de ces points (au-delà de { $limit } %), leurs accélérations ne sont donc pas fiables
scaling-no-gil-cost = CPython { $version } sans GIL : un thread prend { $cost }× le temps de la version avec GIL
scaling-axis-workers = workers
scaling-axis-speedup = accélération
# Colonnes : le mode sur 16, W sur 2, la durée sur 7, l'accélération.
scaling-points-header = { " " }MODE            W   DURÉE  ACCÉL.
scaling-points-title = Points
scaling-rows = { $first }–{ $last } sur { $total } (↑/↓)
scaling-mode-processes = processus
scaling-mode-gil-threads = threads GIL
scaling-mode-free-threads = threads libres
scaling-busy = chargée
scaling-gil-note = GIL simulé : tours de 5 ms
scaling-cpython-note = CPython, 1/10 du travail
scaling-busy-note = ! machine chargée : pas fiable
curve-processes = processus
curve-gil-threads = threads + GIL (simulé)
curve-free-threads = threads libres
curve-cpython-threads = threads CPython
curve-cpython-processes = multiprocessing CPython
curve-gil-on = GIL actif
curve-gil-off = sans GIL
