#ifndef INTERLUDE_CLIBPQ_SHIM_H
#define INTERLUDE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
