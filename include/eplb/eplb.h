#pragma once
// Umbrella header of the eplb core library.

#include "eplb/bounds.h"
#include "eplb/error.h"
#include "eplb/load_matrix.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/plan.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "eplb/replay.h"
#include "eplb/replication.h"
#include "eplb/synthetic.h"
#include "eplb/topology.h"
#include "eplb/trace.h"
