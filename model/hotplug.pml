/*
 * numaslab's CPU hotplug protocol (DESIGN.md section 3, rules R1-R6) as a
 * Promela model, checked with spin.
 *
 * Two nodes; CPU 0 on node 0 stays online, CPU 1 is the only CPU of node 1
 * and goes down and up (UP_CANCELED included), so every down is the
 * last-CPU-of-node case. Around it run: a thread on CPU 0 doing alloc_node(1)
 * and remote frees of node-1 objects through its alien array, a thread on
 * CPU 1 using its array, the shared array and its alien array while the CPU
 * is online, and the reaper.
 *
 * The one modelled cache keeps its metadata (per-CPU arrays, shared arrays,
 * alien sets, node lists) in itself, as the kmalloc caches do: allocating or
 * freeing metadata of node n takes node n's list_lock. That is why R3
 * matters: a free under a held list_lock is a recursive acquisition.
 *
 * What spin proves, for every interleaving:
 *  - no deadlock (no invalid end state) and the lock order R5 holds: locks
 *    are taken in strictly increasing rank (registry < slot < alien < list),
 *    so neither a reversal nor a recursive acquisition can happen;
 *  - no use of a freed shared array, alien set, per-CPU array or node list;
 *  - R6 for metadata: an array is freed only once it holds no object, and
 *    at the end every metadata object ever allocated is either installed or
 *    freed (UP_CANCELED leaks nothing).
 *
 * Variants (spin -D...), each of which must fail:
 *  PREPATCH_FREE_UNDER_LOCK   the DEAD path frees the shared array while it
 *                             still holds the node's list_lock (R3 broken)
 *  PREPATCH_FREE_NODELISTS    the DEAD path frees the node lists of a node
 *                             that lost its last CPU (R1 broken)
 */

#define NNODES 2
#define NCPUS 2
#define MAXOBJ 20
#ifndef CYCLES
#define CYCLES 2
#endif
#ifndef REAPS
#define REAPS 1
#endif
#ifndef OPS
#define OPS 2
#endif
#define ACAP 2   /* objects an array holds in the model */

#define R_REG 1
#define R_SLOT 2
#define R_ALIEN 3
#define R_LIST 4

/* Metadata objects; id 0 is NULL. 0 never allocated, 1 live, 2 freed. */
byte obj[MAXOBJ];
byte cnt[MAXOBJ];      /* objects cached in an array */
byte next_obj = 1;
byte faults = 1;       /* allocations UP_PREPARE may see fail */

byte reg_mutex;        /* 0 free, else owner _pid + 1 */
byte slot_lock[NCPUS];
byte list_lock[NNODES];
byte alien_lock[4];    /* alien array of node n for home h: n * NNODES + h */
byte alien_cnt[4];

byte nl[NNODES];       /* node lists of node n */
byte shared[NNODES];   /* shared array of node n */
byte alien[NNODES];    /* alien set of node n (one object, arrays for every home) */
byte ac[NCPUS];        /* per-CPU array */
bool online[NCPUS];
byte finished;

inline lock(l, r) {
  atomic {
    assert((held >> r) == 0);   /* R5: strictly increasing rank, never recursive */
    l == 0 -> l = _pid + 1; held = held | (1 << r)
  }
}
inline unlock(l, r) {
  atomic { assert(l == _pid + 1); l = 0; held = held & ~(1 << r) }
}
inline use(id) { assert(id != 0 && obj[id] == 1) }

/* Metadata of node n comes from (and goes back to) node n's lists. */
inline alloc_meta(n, id, may_fail) {
  if
  :: may_fail && faults > 0 -> faults--; id = 0
  :: true ->
     lock(list_lock[n], R_LIST);
     atomic { assert(next_obj < MAXOBJ); id = next_obj; next_obj++; obj[id] = 1; cnt[id] = 0 };
     unlock(list_lock[n], R_LIST)
  fi
}
inline free_meta(n, id) {
  lock(list_lock[n], R_LIST);
  atomic {
    use(id);
    assert(cnt[id] == 0);       /* R6: no object goes down with its array */
    obj[id] = 2
  };
  unlock(list_lock[n], R_LIST)
}

/* Objects of node h leave an array for node h: its shared array when there
 * is room (NULL-safe), else its slabs. Caller holds list_lock[h]. */
inline to_home_locked(h) {
  atomic {
    use(nl[h]);
    if
    :: shared[h] != 0 -> use(shared[h]); if :: cnt[shared[h]] < ACAP -> cnt[shared[h]]++ :: else fi
    :: else
    fi
  }
}
/* Drain the alien array of node n for home h; caller holds its lock. A
 * remote list_lock under an alien lock is the one nesting R5 allows. */
inline drain_alien(n, h) {
  if
  :: alien_cnt[n * NNODES + h] > 0 ->
     lock(list_lock[h], R_LIST);
     to_home_locked(h);
     alien_cnt[n * NNODES + h] = 0;
     unlock(list_lock[h], R_LIST)
  :: else
  fi
}

/* R4: the DEAD path of CPU 1 (also UP_CANCELED). Node 1 has no other CPU. */
inline cpu1_dead() {
  lock(slot_lock[1], R_SLOT);
  nc = ac[1]; ac[1] = 0;
  unlock(slot_lock[1], R_SLOT);
  lock(list_lock[1], R_LIST);
  use(nl[1]);
  if :: nc != 0 -> use(nc); cnt[nc] = 0 :: else fi   /* objects back to the slabs */
  sh = shared[1]; shared[1] = 0;
  if :: sh != 0 -> use(sh); cnt[sh] = 0 :: else fi
  al = alien[1]; alien[1] = 0;
#ifdef PREPATCH_FREE_UNDER_LOCK
  if :: sh != 0 -> free_meta(1, sh); sh = 0 :: else fi
#endif
#ifdef PREPATCH_FREE_NODELISTS
  x = nl[1]; nl[1] = 0; obj[x] = 2;
#endif
  unlock(list_lock[1], R_LIST);
  /* R3: release after unlocking. */
  if :: sh != 0 -> free_meta(1, sh); sh = 0 :: else fi
  if
  :: al != 0 ->
     lock(alien_lock[2], R_ALIEN); use(al); drain_alien(1, 0); unlock(alien_lock[2], R_ALIEN);
     lock(alien_lock[3], R_ALIEN); use(al); drain_alien(1, 1); unlock(alien_lock[3], R_ALIEN);
     free_meta(1, al); al = 0
  :: else
  fi
  if :: nc != 0 -> free_meta(1, nc); nc = 0 :: else fi
  /* second pass: shrink node 1 */
  if
  :: nl[1] != 0 -> lock(list_lock[1], R_LIST); use(nl[1]); unlock(list_lock[1], R_LIST)
  :: else
  fi
}

proctype hotplug() {
  byte held = 0;
  byte nc, sh, al, x, cycles = 0;
  bool ok;
  do
  :: cycles < CYCLES ->
     /* cpu_down(1) */
     lock(reg_mutex, R_REG);
     online[1] = false;
     cpu1_dead();
     unlock(reg_mutex, R_REG);

     /* cpu_up(1): UP_PREPARE, pass 1: node lists (R1: only if absent) */
     lock(reg_mutex, R_REG);
     ok = true;
     if
     :: nl[1] == 0 -> alloc_meta(0, x, true); if :: x != 0 -> nl[1] = x :: else -> ok = false fi
     :: else
     fi;
     /* pass 2, R2: allocate everything before taking a lock ... */
     nc = 0; sh = 0; al = 0;
     if :: ok -> alloc_meta(1, nc, true); ok = nc != 0 :: else fi;
     if :: ok -> alloc_meta(1, sh, true); ok = sh != 0 :: else fi;
     if :: ok -> alloc_meta(1, al, true); ok = al != 0 :: else fi;
     if
     :: !ok ->
        /* UP_CANCELED: what was allocated goes back, then the DEAD path */
        if :: nc != 0 -> free_meta(1, nc) :: else fi;
        if :: sh != 0 -> free_meta(1, sh) :: else fi;
        if :: al != 0 -> free_meta(1, al) :: else fi;
        nc = 0; sh = 0; al = 0;
        if :: nl[1] != 0 -> cpu1_dead() :: else fi
     :: else ->
        /* ... install under the locks ... */
        lock(slot_lock[1], R_SLOT);
        assert(ac[1] == 0);
        ac[1] = nc; nc = 0;
        unlock(slot_lock[1], R_SLOT);
        lock(list_lock[1], R_LIST);
        if :: shared[1] == 0 -> shared[1] = sh; sh = 0 :: else fi;
        if :: alien[1] == 0 -> alien[1] = al; al = 0 :: else fi;
        unlock(list_lock[1], R_LIST);
        /* ... and free the spares after unlocking. */
        if :: sh != 0 -> free_meta(1, sh); sh = 0 :: else fi;
        if :: al != 0 -> free_meta(1, al); al = 0 :: else fi;
        online[1] = true   /* ONLINE */
     fi;
     unlock(reg_mutex, R_REG);
     cycles++
  :: else -> break
  od;
  finished++
}

/* A thread on CPU 0 (node 0, always online). */
proctype cpu0_thread() {
  byte held = 0;
  byte x, ops = 0;
  do
  :: ops < OPS ->
     if
     :: true ->
        /* alloc_node(1): R1 says node 1's lists are reachable with no lock */
        x = nl[1];
        if
        :: x != 0 -> lock(list_lock[1], R_LIST); use(x); unlock(list_lock[1], R_LIST)
        :: else
        fi
     :: true ->
        /* free of a node-1 object: into node 0's alien array for node 1 */
        lock(slot_lock[0], R_SLOT);
        use(ac[0]);
        x = alien[0];
        if
        :: x != 0 ->
           use(x);
           lock(alien_lock[1], R_ALIEN);
           if
           :: alien_cnt[1] == ACAP -> drain_alien(0, 1)
           :: else
           fi;
           alien_cnt[1]++;
           unlock(alien_lock[1], R_ALIEN)
        :: else ->
           lock(list_lock[1], R_LIST); to_home_locked(1); unlock(list_lock[1], R_LIST)
        fi;
        unlock(slot_lock[0], R_SLOT)
     fi;
     ops++
  :: else -> break
  od;
  finished++
}

/* A thread on CPU 1 while it is online (a thread of a CPU going down
 * migrates; the slot lock makes the DEAD path wait for an operation inside
 * the arrays). */
proctype cpu1_thread() {
  byte held = 0;
  byte x, a, ops = 0;
  do
  :: ops < OPS ->
     lock(slot_lock[1], R_SLOT);
     a = ac[1];
     if
     :: a != 0 && online[1] ->
        use(a);
        if
        :: true ->  /* alloc: pop, or refill from the shared array / slabs */
           if
           :: cnt[a] > 0 -> cnt[a]--
           :: else ->
              lock(list_lock[1], R_LIST);
              use(nl[1]);
              if
              :: shared[1] != 0 -> use(shared[1]); if :: cnt[shared[1]] > 0 -> cnt[shared[1]]-- :: else fi
              :: else
              fi;
              unlock(list_lock[1], R_LIST)
           fi
        :: true ->  /* local free: push, or flush a batch home */
           if
           :: cnt[a] < ACAP -> cnt[a]++
           :: else -> lock(list_lock[1], R_LIST); to_home_locked(1); unlock(list_lock[1], R_LIST)
           fi
        :: true ->
           /* free of a node-0 object: node 1's alien array for node 0 stays
              attached while this CPU's slot holds an array (NULL-safe) */
           x = alien[1];
           if
           :: x != 0 ->
              use(x);
              lock(alien_lock[2], R_ALIEN);
              if :: alien_cnt[2] == ACAP -> drain_alien(1, 0) :: else fi;
              alien_cnt[2]++;
              unlock(alien_lock[2], R_ALIEN)
           :: else ->
              lock(list_lock[0], R_LIST); to_home_locked(0); unlock(list_lock[0], R_LIST)
           fi
        fi
     :: else  /* the CPU is down: the thread has migrated (not modelled further) */
     fi;
     unlock(slot_lock[1], R_SLOT);
     ops++
  :: else -> break
  od;
  finished++
}

/* The reaper: trylock on the registry mutex, drain per-CPU arrays, alien
 * arrays (trylock) and shared arrays. */
proctype reaper() {
  byte held = 0;
  byte i, n, a, x, passes = 0;
  do
  :: passes < REAPS ->
     if
     :: atomic { reg_mutex == 0 -> reg_mutex = _pid + 1 };
        held = held | (1 << R_REG);
        for (i : 0 .. NCPUS - 1) {
          lock(slot_lock[i], R_SLOT);
          a = ac[i];
          if
          :: a != 0 ->
             use(a);
             lock(list_lock[i], R_LIST); use(nl[i]); cnt[a] = 0; unlock(list_lock[i], R_LIST)
          :: else
          fi;
          unlock(slot_lock[i], R_SLOT)
        }
        for (n : 0 .. NNODES - 1) {
          x = alien[n];
          if
          :: x != 0 ->
             use(x);
             for (i : 0 .. NNODES - 1) {
               if
               :: i != n ->
                  assert((held >> R_ALIEN) == 0);
                  if
                  :: atomic { alien_lock[n * NNODES + i] == 0 -> alien_lock[n * NNODES + i] = _pid + 1 } ->
                     held = held | (1 << R_ALIEN);
                     use(x);
                     drain_alien(n, i);
                     unlock(alien_lock[n * NNODES + i], R_ALIEN)
                  :: else  /* busy: next time */
                  fi
               :: else
               fi
             }
          :: else
          fi
        }
        for (n : 0 .. NNODES - 1) {
          if
          :: nl[n] != 0 ->
             lock(list_lock[n], R_LIST);
             use(nl[n]);
             if :: shared[n] != 0 -> use(shared[n]); cnt[shared[n]] = 0 :: else fi;
             unlock(list_lock[n], R_LIST)
          :: else
          fi
        }
        unlock(reg_mutex, R_REG)
     :: else  /* registry busy: skip this visit */
     fi;
     passes++
  :: else -> break
  od;
  finished++
}

init {
  byte i, n;
  /* Start-up: both CPUs online, node lists, arrays, shared and alien sets. */
  atomic {
    for (n : 0 .. NNODES - 1) {
      nl[n] = next_obj; obj[next_obj] = 1; next_obj++;
      shared[n] = next_obj; obj[next_obj] = 1; next_obj++;
      alien[n] = next_obj; obj[next_obj] = 1; next_obj++
    }
    for (i : 0 .. NCPUS - 1) {
      ac[i] = next_obj; obj[next_obj] = 1; next_obj++;
      online[i] = true
    }
    run hotplug(); run cpu0_thread(); run cpu1_thread(); run reaper()
  }
  finished == 4;
  /* Nothing leaked: every metadata object is installed or freed. */
  for (i : 1 .. next_obj - 1) {
    assert(obj[i] == 2 || i == nl[0] || i == nl[1] || i == shared[0] || i == shared[1] ||
           i == alien[0] || i == alien[1] || i == ac[0] || i == ac[1])
  }
  assert(online[1] || faults == 0)
}
