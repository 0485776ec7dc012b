// The plain MPI ping-pong that overhead/mpi/ping_pong is checked against (docs/mpi.md): ranks 0 and 1 bounce
// BYTES bytes with MPI_Send/MPI_Recv, OSU's latency method (warm-up, then ITERATIONS timed round trips), and
// rank 0 prints the time per round trip. Usage: mpirun -np 2 mpi_ping_pong_peer [BYTES [ITERATIONS]]

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0;
    int size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int bytes = argc > 1 ? std::atoi(argv[1]) : 8;
    const int iterations = argc > 2 ? std::atoi(argv[2]) : 100000;
    if (size < 2 || bytes < 0 || iterations < 1) {
        if (rank == 0) std::fprintf(stderr, "mpi_ping_pong_peer: needs 2 ranks, BYTES >= 0, ITERATIONS >= 1\n");
        MPI_Finalize();
        return 2;
    }
    std::vector<char> buffer(static_cast<std::size_t>(bytes) + 1, 'p');
    const int warm_up = bytes > 8192 ? 10 : 100;
    double start = 0;
    for (int i = 0; i < warm_up + iterations; ++i) {
        if (i == warm_up) {
            MPI_Barrier(MPI_COMM_WORLD);
            start = MPI_Wtime();
        }
        if (rank == 0) {
            MPI_Send(buffer.data(), bytes, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
            MPI_Recv(buffer.data(), bytes, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(buffer.data(), bytes, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buffer.data(), bytes, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
        }
    }
    const double seconds = MPI_Wtime() - start;
    if (rank == 0)
        std::printf("%d bytes: %.3f us per round trip (%d round trips)\n", bytes, seconds / iterations * 1e6,
                    iterations);
    MPI_Finalize();
    return 0;
}
